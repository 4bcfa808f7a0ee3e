"""Multi-account delivery: configuration, the pipeline, and the gate holding inside every stage."""

from __future__ import annotations

import copy
import json
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import Aspects, Environment, Stack, Stage
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk.assertions import Match
from constructs import IConstruct

from ci_tools.scanners import ScanResult, stack_templates
from compliance.acknowledgments import ACKNOWLEDGMENTS
from compliance.checkov_skips import CHECKOV_SKIPS, CheckovSkip
from compliance.gate import (
    EVIDENCE_DIR,
    EVIDENCE_FILE,
    GateReport,
    environment_acknowledgments,
    read_report,
    register_gates,
    synthesize,
)
from compliance.registry import Acknowledgment, construct_paths, environment_of
from config import ConfigError
from config.delivery_loader import (
    EMBEDDED_DELIVERIES,
    PRE_PRODUCTION_ACCOUNT,
    load_delivery,
    parse_delivery,
    placeholder_environment,
)
from pci_constructs.delivery_pipeline import DeliveryPipeline, PipelineStage, pinned_cdk_cli_version
from pci_constructs.permissions_boundary import PermissionsBoundaryAspect
from stacks.delivery import DELIVERY_PATH_PREFIX, delivery_stack_name
from tests.conftest import Delivered, Synthesized, new_app
from tests.test_app_cli import run_app

PIPELINE = delivery_stack_name("Pipeline", "us-east-1")
DELIVERY_ACKNOWLEDGMENTS = tuple(e for e in ACKNOWLEDGMENTS if e.path.startswith(DELIVERY_PATH_PREFIX))


def _default() -> dict[str, Any]:
    return copy.deepcopy(EMBEDDED_DELIVERIES["default"])


# --- configuration -----------------------------------------------------------------------------


def test_embedded_default_is_two_accounts_and_a_tooling_account() -> None:
    delivery = load_delivery("default")
    accounts = [delivery.tooling.account, *(e.config.account for e in delivery.environments)]
    assert accounts == ["111111111111", "222222222222", "333333333333"]
    assert [(e.config.name, e.kind) for e in delivery.environments] == [
        ("preprod", "pre-production"),
        ("prod", "production"),
    ]


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (
            lambda d: d["environments"][0]["config"].update(account="12"),
            "environments.0.config.account: AWS account ID must be exactly 12 digits",
        ),
        (
            lambda d: d["environments"].__setitem__(
                1, {"kind": "production", "config": placeholder_environment("prod", PRE_PRODUCTION_ACCOUNT, (50, 60))}
            ),
            "environments.1.config.account: 222222222222 is already the account of environment 'preprod'",
        ),
        (
            lambda d: d["tooling"].update(account=PRE_PRODUCTION_ACCOUNT),
            "environments.0.config.account: 222222222222 is already the account of tooling",
        ),
        (
            lambda d: d["waves"][1]["stages"][0].update(environment="prd"),
            "waves.1.stages.0.environment: unknown environment 'prd'; environments: preprod, prod",
        ),
        (
            lambda d: d["waves"][1]["stages"][0].update(approval=False),
            "waves.1.stages.0.approval: production environment 'prod' needs a manual approval",
        ),
        (
            lambda d: d["waves"].reverse(),
            "waves.1: a pre-production stage after production (waves.0)",
        ),
        (
            lambda d: d["waves"][0]["stages"].append({"environment": "prod", "approval": True}),
            "waves.1.stages.0.environment: 'prod' is already deployed at 0.stages.1",
        ),
        (
            lambda d: d["source"].update(connection_arn="arn:aws:codeconnections:us-east-1:999999999999:connection/x"),
            "source.connection_arn: must be a CodeConnections connection ARN",
        ),
        (lambda d: d["source"].update(branch="../main"), "source.branch:"),
        (lambda d: d.update(extra=1), "extra: Extra inputs are not permitted"),
    ],
)
def test_bad_delivery_fails_naming_the_field(mutate: Any, message: str) -> None:
    data = _default()
    mutate(data)
    with pytest.raises(ConfigError) as raised:
        parse_delivery(data)
    assert message in str(raised.value)


def test_connection_must_belong_to_the_tooling_account() -> None:
    data = _default()
    data["source"]["connection_arn"] = data["source"]["connection_arn"].replace("111111111111", "999999999999")
    with pytest.raises(ConfigError, match=r"source\.connection_arn: the connection is in account 999999999999"):
        parse_delivery(data)


def test_delivery_file_names_environments_by_embedded_name_or_relative_file(tmp_path: Path) -> None:
    env_file = tmp_path / "envs" / "prod.json"
    env_file.parent.mkdir()
    env_file.write_text(json.dumps(placeholder_environment("prod", "333333333333", (50, 60))))
    data = _default()
    data["environments"][1]["config"] = "envs/prod.json"
    path = tmp_path / "delivery.json"
    path.write_text(json.dumps(data))
    assert load_delivery(str(path)).environment("prod").config.account == "333333333333"
    data["environments"][1]["config"] = "envs/missing.json"
    path.write_text(json.dumps(data))
    with pytest.raises(ConfigError, match=r"environments\.1\.config: cannot read environment file"):
        load_delivery(str(path))


def test_unknown_delivery_name_is_refused() -> None:
    with pytest.raises(ConfigError, match="unknown delivery 'staging' \\(field: delivery\\)"):
        load_delivery("staging")


# --- the whole delivery app: every stack of every stage, one gate ----------------------------------


def test_default_delivery_passes_the_gate_in_every_stage(delivered: Delivered) -> None:
    assert delivered.report.passed, "\n".join(map(str, delivered.report.findings))
    stages = delivered.report.stages
    assert set(stages) == {"", "preprod", "prod"}
    assert set(stages[""]) == {
        PIPELINE,
        delivery_stack_name("GitHubOidc", "us-east-1"),
        delivery_stack_name("Artifacts", "us-west-2"),
    }
    for env in ("preprod", "prod"):
        # 6 stacks per region (Keys, Network, Data, Edge, Workload, AccountGuards) x 2, Audit,
        # AuditReplica, Identity, Detection x 2: every stack of the environment, #13's identity stacks
        # and #10's card vault included.
        stack_names = {c.stack_name for c in delivered.delivery.stages[env].node.children if isinstance(c, Stack)}
        assert set(stages[env]) == stack_names, stages[env]
        assert len(stack_names) == 17
        # The packs really looked inside the stage: its acknowledged findings carry the stage.
        assert any(f.stage == env and f.path.startswith(f"{env}/PciLz-{env}-") for f in delivered.report.acknowledged)


def test_stage_stacks_keep_the_single_environment_stack_names(delivered: Delivered, synthesized: Synthesized) -> None:
    """Moving an environment from `cdk deploy` to the pipeline updates its stacks instead of replacing them."""
    single = sorted(name.replace("PciLz-default-", "") for name, _ in synthesized.templates())
    for env in ("preprod", "prod"):
        artifacts = [s for s in delivered.assembly.stacks_recursively if s.hierarchical_id.startswith(f"{env}/")]
        assert sorted(a.stack_name.replace(f"PciLz-{env}-", "") for a in artifacts) == single
        for artifact in artifacts:
            assert artifact.hierarchical_id == f"{env}/{artifact.stack_name}"
            assert artifact.id != artifact.stack_name  # only the artifact ID takes the stage prefix


def test_one_registry_applies_inside_stages(delivered: Delivered) -> None:
    backups = next(e for e in ACKNOWLEDGMENTS if e.rule == "NIST.800.53.R5-RDSInBackupPlan")
    paths = delivered.gate.acknowledged_paths[backups]
    assert {p.split("/", 1)[0] for p in paths} == {"preprod", "prod"}


def test_a_constructs_own_justification_applies_inside_every_stage(delivered: Delivered) -> None:
    carried = [e for e in delivered.gate.acknowledged_paths if e.carried_by == "SegmentedVpc"]
    vpc3 = [p for e in carried if e.rule == "AwsSolutions-VPC3" for p in delivered.gate.acknowledged_paths[e]]
    assert {p.split("/", 1)[0] for p in vpc3} == {"preprod", "prod"}


@pytest.mark.parametrize("entry", DELIVERY_ACKNOWLEDGMENTS, ids=lambda e: f"{e.rule}@{e.path}")
def test_delivery_acknowledgment_still_hides_a_real_finding(entry: Acknowledgment, delivered: Delivered) -> None:
    paths = delivered.gate.acknowledged_paths[entry]
    assert paths, f"{entry.rule} at {entry.path} matches nothing in the default delivery"
    ids = set(entry.validation_ids(delivered.config.tooling.account, ["us-east-1", "us-west-2"]))
    hidden = [
        f
        for f in delivered.report.acknowledged
        if f.acknowledged_as in ids and any(f.path == p or f.path.startswith(p + "/") for p in paths)
    ]
    assert hidden, f"{entry.rule} at {entry.path} suppresses nothing"


def test_evidence_lists_findings_per_stage(delivered: Delivered) -> None:
    evidence = json.loads((delivered.outdir / EVIDENCE_DIR / EVIDENCE_FILE).read_text())
    assert set(evidence["stages"]) == {"", "preprod", "prod"}
    for env in ("preprod", "prod"):
        assert evidence["stages"][env]["unacknowledged"] == []
        assert evidence["stages"][env]["acknowledged"] > 0
        assert f"PciLz-{env}-Network-us-east-1" in evidence["stages"][env]["stacks"]


@pytest.fixture(scope="module")
def broken_pipeline(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, GateReport]:
    """A pipeline whose pre-production stage holds a bucket with none of the landing zone's defaults
    and a KMS key that never rotates, under the gate with no acknowledgment; synthesized once."""
    outdir = tmp_path_factory.mktemp("cdk.out.broken-stage")
    app = new_app(outdir)
    stage = Stage(app, "preprod", env=Environment(account="222222222222", region="us-east-1"))
    data = Stack(stage, "PciLz-preprod-Data-us-east-1", stack_name="PciLz-preprod-Data-us-east-1")
    s3.Bucket(data, "PlainBucket")  # no KMS key, no access logs, no TLS-only policy
    kms.Key(data, "StaticKey", enable_key_rotation=False)  # PCI DSS v4.0.1 3.7.4
    tooling = Stack(app, PIPELINE, env=Environment(account="111111111111", region="us-east-1"))
    DeliveryPipeline(
        tooling,
        "Delivery",
        pipeline_name="pci-lz-delivery",
        repository="example-org/pci-dss-landing-zone",
        branch="main",
        connection_arn=EMBEDDED_DELIVERIES["default"]["source"]["connection_arn"],
        synth_commands=["make synth DELIVERY=default"],
        waves={"PreProduction": [PipelineStage(stage, approval=False)]},
        log_retention_days=365,
        replication_buckets={},
    )
    assembly, report = synthesize(app, register_gates(app, acknowledgments=()))
    assert assembly is None
    return outdir, report


def test_a_broken_bucket_inside_a_pipeline_stage_fails_the_synth(broken_pipeline: tuple[Path, GateReport]) -> None:
    outdir, report = broken_pipeline
    assert not report.passed
    broken = [f for f in report.findings if f.path.startswith("preprod/PciLz-preprod-Data-us-east-1/PlainBucket")]
    assert {"AwsSolutions-S1", "AwsSolutions-S10", "PCI.DSS.321-S3BucketSSLRequestsOnly"} <= {f.rule for f in broken}
    assert {f.stage for f in broken} == {"preprod"}
    reread = read_report(outdir)  # read back from disk, the findings are still placed in their stage
    assert any(f.stage == "preprod" and "PlainBucket" in f.path for f in reread.findings)
    evidence = json.loads((outdir / EVIDENCE_DIR / EVIDENCE_FILE).read_text())
    assert evidence["passed"] is False
    assert any("PlainBucket" in f for f in evidence["stages"]["preprod"]["unacknowledged"])


def test_the_v4_plugin_checks_every_stack_of_every_stage(broken_pipeline: tuple[Path, GateReport]) -> None:
    outdir, report = broken_pipeline
    rotation = [f for f in report.findings if f.rule == "PCI4-KMS-ROTATION"]
    assert [(f.plugin, f.stage, f.path.split("/")[:3]) for f in rotation] == [
        ("PCI-DSS-v4.0.1", "preprod", ["preprod", "PciLz-preprod-Data-us-east-1", "StaticKey"])
    ]
    evidence = json.loads((outdir / EVIDENCE_DIR / EVIDENCE_FILE).read_text())
    assert any("PCI4-KMS-ROTATION" in f for f in evidence["stages"]["preprod"]["unacknowledged"])


def test_environment_acknowledgments_apply_inside_that_environments_stage_only(tmp_path: Path) -> None:
    """An environment file's entry (limited to its Stage) suppresses its finding in its own stage,
    and the same construct in another environment's stage keeps failing."""
    app = new_app(tmp_path)
    for name, account in (("preprod", "222222222222"), ("prod", "333333333333")):
        stage = Stage(app, name, env=Environment(account=account, region="us-east-1"))
        data = Stack(stage, f"PciLz-{name}-Data-us-east-1", stack_name=f"PciLz-{name}-Data-us-east-1")
        kms.Key(data, "StaticKey", enable_key_rotation=False)

    class Entry:  # what config.models.EnvironmentAcknowledgment carries
        path = "PciLz-*-Data-*/StaticKey"
        rule = "PCI4-KMS-ROTATION"
        reason = "A test key whose material is replaced by re-encryption under a new key every quarter"
        requirement = "PCI DSS v4.0.1 3.7.4"
        owner = "payments-platform"
        review_by = date.today() + timedelta(days=90)

    own = environment_acknowledgments([Entry()], environment="preprod", scope="preprod")
    gate = register_gates(app, acknowledgments=(), environment=own)
    _, report = synthesize(app, gate)
    assert gate.acknowledged_paths[own[0]] == ["preprod/PciLz-preprod-Data-us-east-1/StaticKey"]
    assert {(f.rule, f.stage) for f in report.acknowledged} == {("PCI4-KMS-ROTATION", "preprod")}
    rotation = {(f.rule, f.stage) for f in report.findings if f.rule == "PCI4-KMS-ROTATION"}
    assert rotation == {("PCI4-KMS-ROTATION", "prod")}
    assert report.unused == ()


def test_registry_paths_drop_the_stage_prefix(tmp_path: Path) -> None:
    app = new_app(tmp_path)
    stage = Stage(app, "prod")
    Stack(stage, "PciLz-prod-Data-us-east-1")
    paths = {path for _, path in construct_paths(app)}
    assert "PciLz-prod-Data-us-east-1" in paths
    assert not any(p.startswith("prod/") for p in paths)


# --- the pipeline's own resources ----------------------------------------------------------------


def _resources(delivered: Delivered, stack: str, kind: str) -> dict[str, Any]:
    return dict(delivered.template(stack).find_resources(kind))


def test_pipeline_promotes_preprod_then_prod_with_an_approval_before_prod(delivered: Delivered) -> None:
    (pipeline,) = _resources(delivered, PIPELINE, "AWS::CodePipeline::Pipeline").values()
    stages = {s["Name"]: s["Actions"] for s in pipeline["Properties"]["Stages"]}
    names = [s["Name"] for s in pipeline["Properties"]["Stages"]]
    # A wave of one stage becomes one CodePipeline stage, named after the environment.
    assert names[:4] == ["Source", "Build", "UpdatePipeline", "Assets"]
    assert names.index("preprod") < names.index("prod")
    approvals = [a for a in stages["prod"] if a["ActionTypeId"]["Category"] == "Approval"]
    assert len(approvals) == 1
    assert approvals[0]["RunOrder"] == 1
    deploys = [a for a in stages["prod"] if a["ActionTypeId"]["Category"] == "Deploy"]
    assert deploys
    assert all(a["RunOrder"] > 1 for a in deploys)
    assert not [a for a in stages["preprod"] if a["ActionTypeId"]["Category"] == "Approval"]
    # Cross-account: the stage's actions run with the target account's CDK bootstrap roles.
    assert all(":role/cdk-hnb659fds-deploy-role-333333333333-" in json.dumps(a["RoleArn"]) for a in deploys)


def test_pipeline_source_is_the_configured_codeconnections_repository(delivered: Delivered) -> None:
    (pipeline,) = _resources(delivered, PIPELINE, "AWS::CodePipeline::Pipeline").values()
    source = pipeline["Properties"]["Stages"][0]["Actions"][0]
    assert source["ActionTypeId"]["Provider"] == "CodeStarSourceConnection"
    assert source["Configuration"]["ConnectionArn"] == delivered.config.source.connection_arn
    assert source["Configuration"]["FullRepositoryId"] == "example-org/pci-dss-landing-zone"
    assert source["Configuration"]["BranchName"] == "main"
    assert pipeline["Properties"]["PipelineType"] == "V2"


def test_the_source_role_may_use_the_connection_under_both_service_prefixes(delivered: Delivered) -> None:
    """Issue #22 fault 6: CodeConnections connections authorize `codeconnections:UseConnection`, older
    ones `codestar-connections:UseConnection`; the source role gets both, on the connection only."""
    granted: dict[str, set[str]] = {}
    for policy in _resources(delivered, PIPELINE, "AWS::IAM::Policy").values():
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            for action in actions:
                if action.endswith(":UseConnection"):
                    granted.setdefault(action, set()).add(json.dumps(statement["Resource"]))
    connection = json.dumps(delivered.config.source.connection_arn)
    assert granted == {
        "codestar-connections:UseConnection": {connection},
        "codeconnections:UseConnection": {connection},
    }


def test_every_region_has_a_kms_encrypted_artifact_store(delivered: Delivered) -> None:
    (pipeline,) = _resources(delivered, PIPELINE, "AWS::CodePipeline::Pipeline").values()
    stores = {s["Region"]: s["ArtifactStore"] for s in pipeline["Properties"]["ArtifactStores"]}
    assert set(stores) == {"us-east-1", "us-west-2"}
    assert all(s["EncryptionKey"]["Type"] == "KMS" for s in stores.values())
    assert "alias/pci-lz/delivery/artifacts-us-west-2" in json.dumps(stores["us-west-2"]["EncryptionKey"]["Id"])


@pytest.mark.parametrize("stack", [PIPELINE, delivery_stack_name("Artifacts", "us-west-2")])
def test_artifact_buckets_are_kms_encrypted_versioned_logged_and_retained(delivered: Delivered, stack: str) -> None:
    buckets = _resources(delivered, stack, "AWS::S3::Bucket")
    artifacts = [b for b in buckets.values() if "LoggingConfiguration" in b["Properties"]]
    assert len(artifacts) == 1
    (bucket,) = artifacts
    rule = bucket["Properties"]["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]
    assert rule["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms"
    assert bucket["Properties"]["VersioningConfiguration"] == {"Status": "Enabled"}
    assert all(
        b["DeletionPolicy"] == "RetainExceptOnCreate" and b["UpdateReplacePolicy"] == "Retain" for b in buckets.values()
    )
    keys = _resources(delivered, stack, "AWS::KMS::Key")
    assert keys
    assert all(
        k["Properties"]["EnableKeyRotation"] and k["DeletionPolicy"] == "RetainExceptOnCreate" for k in keys.values()
    )


def test_codebuild_projects_are_unprivileged_and_log_to_the_encrypted_group(delivered: Delivered) -> None:
    template = delivered.template(PIPELINE)
    (group_id, group) = next(iter(template.find_resources("AWS::Logs::LogGroup").items()))
    assert group["Properties"]["RetentionInDays"] >= 365
    assert "KmsKeyId" in group["Properties"]
    assert group["DeletionPolicy"] == "RetainExceptOnCreate"
    projects = template.find_resources("AWS::CodeBuild::Project")
    assert len(projects) >= 3  # synth, self-mutation, asset publishing
    for project in projects.values():
        props = project["Properties"]
        assert props["Environment"].get("PrivilegedMode", False) is False
        assert props["LogsConfig"]["CloudWatchLogs"] == {"GroupName": {"Ref": group_id}, "Status": "ENABLED"}
        assert "EncryptionKey" in props


def test_synth_step_runs_the_readme_command_on_the_project_toolchain(delivered: Delivered) -> None:
    template = delivered.template(PIPELINE)
    specs = [
        json.loads(p["Properties"]["Source"]["BuildSpec"])
        for p in template.find_resources("AWS::CodeBuild::Project").values()
        if "make synth" in p["Properties"]["Source"]["BuildSpec"]
    ]
    assert len(specs) == 1
    (spec,) = specs
    assert spec["phases"]["build"]["commands"] == ["make synth DELIVERY=default"]
    assert spec["phases"]["install"]["runtime-versions"] == {"python": "3.11", "nodejs": "20"}
    assert spec["artifacts"]["base-directory"] == "cdk.out"
    self_mutation = [
        p
        for p in template.find_resources("AWS::CodeBuild::Project").values()
        if "cdk -a" in p["Properties"]["Source"]["BuildSpec"]
    ]
    assert self_mutation
    assert f"aws-cdk@{pinned_cdk_cli_version()}" in self_mutation[0]["Properties"]["Source"]["BuildSpec"]


def test_log_key_is_usable_by_cloudwatch_logs_for_the_build_log_group_only(delivered: Delivered) -> None:
    template = delivered.template(PIPELINE)
    template.has_resource_properties(
        "AWS::KMS::Key",
        {
            "KeyPolicy": {
                "Statement": Match.array_with(
                    [
                        Match.object_like(
                            {
                                "Sid": "AllowCloudWatchLogsForTheBuildLogGroup",
                                "Principal": {"Service": "logs.us-east-1.amazonaws.com"},
                                "Condition": {
                                    "ArnEquals": {
                                        "kms:EncryptionContext:aws:logs:arn": (
                                            "arn:aws:logs:us-east-1:111111111111:log-group:"
                                            "/pci-lz/delivery/pci-lz-delivery/codebuild"
                                        )
                                    }
                                },
                            }
                        )
                    ]
                )
            }
        },
    )


def test_stage_templates_carry_the_checkov_skips_of_the_single_environment(
    delivered: Delivered, synthesized: Synthesized
) -> None:
    """Adding a stage to a pipeline synthesizes it at once: the registry must be written before (prepare_stage)."""

    def skips(templates: dict[str, Any], prefix: str) -> dict[tuple[str, str], Any]:
        return {
            (name.replace(prefix, ""), logical_id): resource["Metadata"]["checkov"]
            for name, template in templates.items()
            for logical_id, resource in template.get("Resources", {}).items()
            if "checkov" in resource.get("Metadata", {})
        }

    single = skips(dict(synthesized.templates()), "PciLz-default-")
    assert single
    for env in ("preprod", "prod"):
        staged = {
            s.stack_name: s.template
            for s in delivered.assembly.stacks_recursively
            if s.stack_name.startswith(f"PciLz-{env}-")
        }
        assert skips(staged, f"PciLz-{env}-") == single


def test_app_refuses_a_bad_delivery_file_before_synthesis(tmp_path: Path) -> None:
    """`cdk synth -c delivery=bad.json`: exit 2, the field named, no template written."""
    data = _default()
    data["waves"][1]["stages"][0]["approval"] = False
    path = tmp_path / "delivery.json"
    path.write_text(json.dumps(data))
    result = run_app(tmp_path, str(path), context="delivery")
    assert result.returncode == 2, result.stderr
    assert "waves.1.stages.0.approval: production environment 'prod' needs a manual approval" in result.stderr
    assert not list((tmp_path / "cdk.out").glob("**/*.template.json"))


@pytest.mark.parametrize(
    "entry", [e for e in CHECKOV_SKIPS if e.path.startswith(DELIVERY_PATH_PREFIX)], ids=lambda e: f"{e.check}@{e.path}"
)
def test_delivery_checkov_skip_lands_on_the_pipeline_resource(entry: CheckovSkip, delivered: Delivered) -> None:
    """The delivery's checkov skips match its stacks and are written into their templates."""
    resources = delivered.gate.checkov_skipped_paths[entry]
    assert resources, f"{entry.path} {entry.check} matches nothing in the default delivery"
    stack = resources[0].split("/", 1)[0]
    written = [
        r["Metadata"]["checkov"]["skip"]
        for r in delivered.template(stack).to_json()["Resources"].values()
        if "checkov" in r.get("Metadata", {})
    ]
    assert any({"id": entry.check, "comment": entry.comment} in skips for skips in written)


def test_aspects_of_the_environment_reach_its_stage_stacks(delivered: Delivered) -> None:
    """Tags (an Aspect) are added on the environment's scope: inside a Stage they still land on every resource."""
    for env in ("preprod", "prod"):
        keys = delivered.template(f"PciLz-{env}-Keys-us-east-1").find_resources("AWS::KMS::Key")
        assert keys
        for key in keys.values():
            tags = {t["Key"]: t["Value"] for t in key["Properties"]["Tags"]}
            assert tags["environment"] == env
            assert tags["project"] == "pci-dss-landing-zone"


def test_environment_and_account_placeholders_follow_the_stack_of_the_construct(tmp_path: Path) -> None:
    """#13's entries name the log archive `pcilz-<env>-logs-<account>-*`: one entry for every stage."""
    app = new_app(tmp_path)
    stage = Stage(app, "prod", env=Environment(account="333333333333", region="us-west-2"))
    stack = Stack(stage, "PciLz-prod-Identity-us-west-2")
    entry = next(e for e in ACKNOWLEDGMENTS if "pcilz-{environment}-logs-{account}-*]" in e.rule)
    assert environment_of(stack) == "prod"
    assert environment_of(Stack(app, "Tiny")) == ""
    (filled,) = entry.validation_ids(stack.account, ["us-west-2"], environment_of(stack))
    assert filled == "AwsSolutions::AwsSolutions-IAM5[Resource::arn:aws:s3:::pcilz-prod-logs-333333333333-*]"
    assert entry.acknowledges(filled)
    assert not entry.acknowledges(filled.replace("-*]", "-*/*]"))


def _boundary_aspects(scope: IConstruct) -> int:
    return sum(isinstance(a, PermissionsBoundaryAspect) for a in Aspects.of(scope).all)


def test_the_permissions_boundary_reaches_every_role_of_every_stage_once(
    delivered: Delivered, synthesized: Synthesized
) -> None:
    """#13's boundary Aspect goes on the environment's scope: once on the App of `cdk deploy`, once
    on each Stage (an Aspect on the App never enters a Stage), never on the delivery's App."""
    assert _boundary_aspects(synthesized.zone.regions[synthesized.config.home_region].keys.node.root) == 1
    root = next(iter(delivered.delivery.stages.values())).node.root
    assert _boundary_aspects(root) == 0
    for env, stage in delivered.delivery.stages.items():
        assert _boundary_aspects(stage) == 1
        roles = delivered.template(f"PciLz-{env}-Identity-us-east-1").find_resources("AWS::IAM::Role")
        assert roles
        for role in roles.values():
            assert f":iam::{stage.account}:policy/" in json.dumps(role["Properties"]["PermissionsBoundary"])


def test_the_v4_plugin_parses_every_stack_of_the_delivery(delivered: Delivered) -> None:
    model = delivered.gate.pci_dss_v4.model
    assert model is not None
    assert len(model.stacks) == len(delivered.assembly.stacks_recursively) == 37


# --- Issue #22: the outside scanners on the delivery's own templates (the pipeline, OIDC and artifact
# stacks at the top of the assembly) and every stage below them, on the session's one delivery synth.


@pytest.fixture(scope="module")
def delivery_scans(delivery_outside_scans: dict[str, ScanResult]) -> dict[str, ScanResult]:
    """The delivery's results from the session's scan batch (tests/conftest.py `delivery_outside_scans`)."""
    return delivery_outside_scans


def test_cfn_lint_reports_no_errors_on_the_pipeline_templates(
    delivery_scans: dict[str, ScanResult], delivered: Delivered
) -> None:
    """cfn-lint lints the assembly's top-level stacks: the pipeline, GitHub OIDC and cross-region artifact
    stacks. E3703 (PipelineActionConfiguration) checks every deploy action's Configuration.RoleArn against
    the AWS::IAM::Role.Arn format after resolving intrinsics; CDK Pipelines writes those as
    Fn::Join ["", ["arn:", Ref AWS::Partition, ":iam::<account>:role/cdk-<qualifier>-cfn-exec-role-..."]],
    which resolves to a well-formed role ARN, so no ignore is configured."""
    linted = {path.name for paths in stack_templates(delivered.outdir).values() for path in paths}
    assert {f"{PIPELINE}.template.json", f"{delivery_stack_name('GitHubOidc', 'us-east-1')}.template.json"} <= linted
    pipeline = delivered.template(PIPELINE).find_resources("AWS::CodePipeline::Pipeline")
    joined = [
        action
        for resource in pipeline.values()
        for stage in resource["Properties"]["Stages"]
        for action in stage["Actions"]
        if "Fn::Join" in action.get("Configuration", {}).get("RoleArn", {})
    ]
    assert joined, "the deploy actions name the stage accounts' execution roles with Fn::Join"
    result = delivery_scans["cfn-lint"]
    errors = [str(f) for f in result.findings if f.level == "Error"]
    assert not errors, "cfn-lint errors in the delivery's templates:\n  " + "\n  ".join(errors)


def test_checkov_has_no_failed_check_on_the_delivery(delivery_scans: dict[str, ScanResult]) -> None:
    result = delivery_scans["checkov"]
    assert result.summary.get("parsing_errors") == 0
    assert result.summary.get("passed", 0) > 0
    assert not result.findings, "checkov failed checks in the delivery:\n  " + "\n  ".join(map(str, result.findings))


def test_a_missing_delivery_file_names_the_delivery_field(tmp_path: Path) -> None:
    """Fork trial r23f: `-c delivery=nope.json` said "cannot read environment file nope.json"."""
    missing = tmp_path / "nope.json"
    with pytest.raises(ConfigError) as err:
        load_delivery(str(missing))
    assert str(err.value) == f"cannot read delivery file {missing} (field: delivery): No such file or directory"


def test_a_missing_environment_file_of_a_delivery_names_its_entry(tmp_path: Path) -> None:
    data = _default()
    data["environments"][1]["config"] = "envs/missing.json"
    path = tmp_path / "delivery.json"
    path.write_text(json.dumps(data))
    with pytest.raises(ConfigError, match=r"\(field: environments\.1\.config\): No such file"):
        load_delivery(str(path))


def test_an_expired_acknowledgment_of_an_inline_environment_is_refused_at_load(tmp_path: Path) -> None:
    data = _default()
    data["environments"][1]["config"]["acknowledgments"] = [
        {
            "path": "PciLz-*-Data-*/StaticKey",
            "rule": "PCI4-KMS-ROTATION",
            "reason": "A test key whose material is replaced by re-encryption under a new key every quarter",
            "requirement": "PCI DSS v4.0.1 3.7.4",
            "owner": "payments-platform",
            "review_by": (date.today() - timedelta(days=1)).isoformat(),
        }
    ]
    path = tmp_path / "delivery.json"
    path.write_text(json.dumps(data))
    with pytest.raises(ConfigError) as err:
        load_delivery(str(path))
    assert str(err.value).splitlines()[:2] == [
        f"invalid delivery configuration ({path}):",
        f"  - environments.1.config.acknowledgments.0.review_by: expired: {date.today() - timedelta(days=1)}"
        " has passed; the owner reviews the risk (PCI DSS v4.0.1 12.3.1) and sets a new date, or the finding"
        " is fixed and this entry deleted",
    ]
