"""`make evidence-live` (evidence/live.py): drift, conformance pack and Security Hub status in the report.

No AWS call: botocore's Stubber answers what moto does not model (drift detection, conformance-pack
compliance, Security Hub standards and controls); moto answers GetFindings and DescribeStacks. Passing
and failing states each. The import boundary: nothing that runs at synth time imports the live
module or boto3.
"""

from __future__ import annotations

import ast
import datetime
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from compliance.gate import EVIDENCE_DIR
from evidence import live
from evidence.report import REPORT_NAME, write_compliance_evidence
from evidence.workpapers import NOT_VERIFIED, WORKPAPER_DIR
from pci_rules.model import StackTemplate, TemplateModel
from pci_rules.rule import evaluate
from pci_rules.rules import RULES
from tests.conftest import ROOT, Synthesized

NOW = datetime.datetime(2026, 12, 1, 12, 0, tzinfo=datetime.UTC)
RETRIEVED = "2026-12-01T12:00:00Z"
STANDARD_ARN = "arn:aws:securityhub:us-east-1::standards/pci-dss/v/4.0.1"
SUBSCRIPTION = "arn:aws:securityhub:us-east-1:111111111111:subscription/pci-dss/v/4.0.1"


def _client(service: str, region: str = "us-east-1") -> Any:
    return boto3.client(service, region_name=region, aws_access_key_id="testing", aws_secret_access_key="testing")


@pytest.fixture
def stubbed() -> Iterator[dict[tuple[str, str], tuple[Any, Stubber]]]:
    made: dict[tuple[str, str], tuple[Any, Stubber]] = {}
    yield made
    for _, stubber in made.values():
        stubber.assert_no_pending_responses()
        stubber.deactivate()


def _stub(made: dict[tuple[str, str], tuple[Any, Stubber]], service: str, region: str = "us-east-1") -> Stubber:
    if (service, region) not in made:
        client = _client(service, region)
        stubber = Stubber(client)
        stubber.activate()
        made[(service, region)] = (client, stubber)
    return made[(service, region)][1]


# -- responses -------------------------------------------------------------------------------------
def _drift(stubber: Stubber, stack: str, status: str, *, polls: int = 1, drifted: bool = False) -> None:
    stubber.add_response("detect_stack_drift", {"StackDriftDetectionId": f"d-{stack}"}, {"StackName": stack})
    for _ in range(polls):
        stubber.add_response(
            "describe_stack_drift_detection_status",
            {
                "StackId": stack,
                "StackDriftDetectionId": f"d-{stack}",
                "DetectionStatus": live.IN_PROGRESS,
                "Timestamp": NOW,
            },
            {"StackDriftDetectionId": f"d-{stack}"},
        )
    stubber.add_response(
        "describe_stack_drift_detection_status",
        {
            "StackId": stack,
            "StackDriftDetectionId": f"d-{stack}",
            "DetectionStatus": "DETECTION_COMPLETE",
            "StackDriftStatus": status,
            "Timestamp": NOW,
        },
        {"StackDriftDetectionId": f"d-{stack}"},
    )
    if drifted:
        stubber.add_response(
            "describe_stack_resource_drifts",
            {
                "StackResourceDrifts": [
                    {
                        "StackId": stack,
                        "LogicalResourceId": "EdgeSecurityGroup",
                        "ResourceType": "AWS::EC2::SecurityGroup",
                        "StackResourceDriftStatus": "MODIFIED",
                        "Timestamp": NOW,
                        "PropertyDifferences": [
                            {
                                "PropertyPath": "/SecurityGroupIngress/2",
                                "ExpectedValue": "null",
                                "ActualValue": "{}",
                                "DifferenceType": "ADD",
                            }
                        ],
                    }
                ]
            },
            {"StackName": stack, "StackResourceDriftStatusFilters": ["MODIFIED", "DELETED", "NOT_CHECKED"]},
        )


def _pack(stubber: Stubber, pack: str, status: str, rules: list[tuple[str, str]]) -> None:
    stubber.add_response(
        "get_conformance_pack_compliance_summary",
        {
            "ConformancePackComplianceSummaryList": [
                {"ConformancePackName": pack, "ConformancePackComplianceStatus": status}
            ]
        },
        {"ConformancePackNames": [pack]},
    )
    stubber.add_response(
        "describe_conformance_pack_compliance",
        {
            "ConformancePackName": pack,
            "ConformancePackRuleComplianceList": [
                {"ConfigRuleName": name, "ComplianceType": compliance} for name, compliance in rules
            ],
        },
        {"ConformancePackName": pack},
    )


def finding(control: str, status: str, number: int, *, standard: str = live.PCI_STANDARD) -> dict[str, Any]:
    return {
        "SchemaVersion": "2018-10-08",
        "Id": f"finding-{control}-{number}",
        "ProductArn": "arn:aws:securityhub:us-east-1::product/aws/securityhub",
        "GeneratorId": f"security-control/{control}",
        "AwsAccountId": "111111111111",
        "CreatedAt": "2026-12-01T00:00:00Z",
        "UpdatedAt": "2026-12-01T00:00:00Z",
        "Title": control,
        "Description": control,
        "Resources": [{"Type": "AwsAccount", "Id": "AWS::::Account:111111111111"}],
        "RecordState": "ACTIVE",
        "Compliance": {
            "Status": status,
            "SecurityControlId": control,
            "AssociatedStandards": [{"StandardsId": standard}],
        },
    }


def _hub(stubber: Stubber, findings: list[dict[str, Any]], controls: list[dict[str, Any]] | None = None) -> None:
    stubber.add_response(
        "get_enabled_standards",
        {
            "StandardsSubscriptions": [
                {
                    "StandardsSubscriptionArn": SUBSCRIPTION,
                    "StandardsArn": STANDARD_ARN,
                    "StandardsInput": {},
                    "StandardsStatus": "READY",
                }
            ]
        },
        {},
    )
    stubber.add_response("get_findings", {"Findings": findings}, None)
    stubber.add_response(
        "describe_standards_controls",
        {
            "Controls": controls
            if controls is not None
            else [
                {
                    "ControlId": "S3.5",
                    "ControlStatus": "ENABLED",
                    "Title": "S3 buckets require SSL",
                    "RelatedRequirements": ["PCI DSS v4.0.1/4.2.1"],
                },
                {"ControlId": "EC2.13", "ControlStatus": "ENABLED", "Title": "No SSH from 0.0.0.0/0"},
                {"ControlId": "IAM.6", "ControlStatus": "DISABLED", "DisabledReason": "root MFA by SCP"},
                {"ControlId": "RDS.9", "ControlStatus": "ENABLED", "Title": "RDS logging"},
            ]
        },
        {"StandardsSubscriptionArn": SUBSCRIPTION},
    )


# -- units ------------------------------------------------------------------------------------------
def test_a_drift_detection_is_polled_until_it_ends_and_drifted_resources_are_listed(stubbed: Any) -> None:
    stubber = _stub(stubbed, "cloudformation")
    _drift(stubber, "S-in-sync", "IN_SYNC", polls=2)
    _drift(stubber, "S-drifted", "DRIFTED", drifted=True)
    cfn = stubbed[("cloudformation", "us-east-1")][0]
    sleeps: list[float] = []
    clean = live.stack_drift(cfn, "S-in-sync", "us-east-1", sleep=sleeps.append)
    assert clean.status == "IN_SYNC"
    assert clean.drifted == ()
    assert sleeps == [live.POLL_S, live.POLL_S]
    drifted = live.stack_drift(cfn, "S-drifted", "us-east-1", sleep=sleeps.append)
    assert drifted.status == "DRIFTED"
    assert drifted.drifted == (
        ("EdgeSecurityGroup", "AWS::EC2::SecurityGroup", "MODIFIED", "/SecurityGroupIngress/2 ADD"),
    )
    paper = live.drift_paper([clean, drifted], RETRIEVED)
    assert RETRIEVED in paper.title
    assert (
        "us-east-1",
        "S-drifted",
        "DRIFTED",
        "EdgeSecurityGroup (AWS::EC2::SecurityGroup)",
        "MODIFIED",
        "/SecurityGroupIngress/2 ADD",
        "detection DETECTION_COMPLETE",
    ) in paper.rows


def test_a_missing_stack_and_a_denied_call_are_stated_never_passed(stubbed: Any) -> None:
    stubber = _stub(stubbed, "cloudformation")
    stubber.add_client_error("detect_stack_drift", "ValidationError", "Stack with id S does not exist")
    stubber.add_client_error("detect_stack_drift", "AccessDenied", "not authorized to perform DetectStackDrift")
    cfn = stubbed[("cloudformation", "us-east-1")][0]
    assert live.stack_drift(cfn, "S", "us-east-1").status == "not deployed"
    assert live.stack_drift(cfn, "S", "us-east-1").status == "not read (AccessDenied)"


def test_a_detection_that_never_ends_is_unknown_after_the_timeout(stubbed: Any) -> None:
    stubber = _stub(stubbed, "cloudformation")
    stubber.add_response("detect_stack_drift", {"StackDriftDetectionId": "d"}, {"StackName": "S"})
    for _ in range(3):
        stubber.add_response(
            "describe_stack_drift_detection_status",
            {"StackId": "S", "StackDriftDetectionId": "d", "DetectionStatus": live.IN_PROGRESS, "Timestamp": NOW},
        )
    cfn = stubbed[("cloudformation", "us-east-1")][0]
    result = live.stack_drift(cfn, "S", "us-east-1", sleep=lambda _: None, timeout_s=2 * live.POLL_S)
    assert result.status == "UNKNOWN"


def test_no_detect_reads_the_last_result_from_describe_stacks_with_moto() -> None:
    from moto import mock_aws

    with mock_aws():
        cfn = _client("cloudformation")
        cfn.create_stack(StackName="S", TemplateBody='{"Resources": {"T": {"Type": "AWS::SNS::Topic"}}}')
        result = live.stack_drift(cfn, "S", "us-east-1", detect=False)
        assert result.status == "NOT_CHECKED"  # moto has never run a detection
        assert result.detail == "never detected"
        assert live.stack_drift(cfn, "Absent", "us-east-1", detect=False).status == "not deployed"


def test_conformance_pack_compliant_and_non_compliant(stubbed: Any) -> None:
    stubber = _stub(stubbed, "config")
    _pack(stubber, "pack", "COMPLIANT", [("s3-bucket-ssl-requests-only", "COMPLIANT")])
    _pack(stubber, "pack", "NON_COMPLIANT", [("iam-password-policy", "NON_COMPLIANT"), ("x", "COMPLIANT")])
    stubber.add_client_error("get_conformance_pack_compliance_summary", "NoSuchConformancePackException")
    config = stubbed[("config", "us-east-1")][0]
    good = live.conformance_compliance(config, "pack", "us-east-1")
    bad = live.conformance_compliance(config, "pack", "us-east-1")
    assert (good.status, good.rules) == ("COMPLIANT", (("s3-bucket-ssl-requests-only", "COMPLIANT"),))
    assert bad.status == "NON_COMPLIANT"
    assert ("iam-password-policy", "NON_COMPLIANT") in bad.rules
    assert live.conformance_compliance(config, "pack", "us-east-1").status == "not deployed"


def test_security_hub_control_status_from_findings_passing_and_failing(stubbed: Any) -> None:
    stubber = _stub(stubbed, "securityhub")
    _hub(
        stubber,
        [
            finding("S3.5", "PASSED", 1),
            finding("S3.5", "PASSED", 2),
            finding("EC2.13", "PASSED", 1),
            finding("EC2.13", "FAILED", 2),
            finding("RDS.9", "FAILED", 1, standard="standards/aws-foundational-security-best-practices/v/1.0.0"),
        ],
    )
    state, controls = live.security_hub_controls(stubbed[("securityhub", "us-east-1")][0], "us-east-1")
    assert state == "enabled"
    by_id = {c.control: c for c in controls}
    assert (by_id["S3.5"].status, by_id["S3.5"].findings) == ("PASSED", 2)
    assert by_id["S3.5"].requirements == "PCI DSS v4.0.1/4.2.1"
    assert by_id["EC2.13"].status == "FAILED"
    assert by_id["RDS.9"].status == "NO_DATA"  # its only finding belongs to another standard
    assert by_id["IAM.6"].enablement == "DISABLED (root MFA by SCP)"
    assert by_id["IAM.6"].status == "-"


def test_security_hub_not_enabled_or_standard_off_is_stated(stubbed: Any) -> None:
    stubber = _stub(stubbed, "securityhub")
    stubber.add_client_error("get_enabled_standards", "InvalidAccessException", "not subscribed")
    stubber.add_response("get_enabled_standards", {"StandardsSubscriptions": []}, {})
    hub = stubbed[("securityhub", "us-east-1")][0]
    assert live.security_hub_controls(hub, "us-east-1") == ("Security Hub not enabled", [])
    assert live.security_hub_controls(hub, "us-east-1") == ("PCI DSS v4.0.1 not enabled", [])


def test_control_findings_with_moto_keeps_only_the_standards_active_findings() -> None:
    """moto models GetFindings but ignores its filters: the client-side filter must hold."""
    from moto import mock_aws

    with mock_aws():
        hub = _client("securityhub")
        hub.enable_security_hub()
        suppressed = finding("S3.5", "FAILED", 9)
        suppressed["Workflow"] = {"Status": "SUPPRESSED"}
        archived = finding("S3.5", "FAILED", 8)
        archived["RecordState"] = "ARCHIVED"
        other = finding("S3.5", "FAILED", 7, standard="standards/cis-aws-foundations-benchmark/v/3.0.0")
        hub.batch_import_findings(Findings=[finding("S3.5", "PASSED", 1), suppressed, archived, other])
        assert live.control_findings(hub) == {"S3.5": ["PASSED"]}
    assert live.summarise([]) == "NO_DATA"
    assert live.summarise(["PASSED", "WARNING"]) == "WARNING"


# -- the report ------------------------------------------------------------------------------------
def _small_model() -> TemplateModel:
    pack = {"Type": "AWS::Config::ConformancePack", "Properties": {"ConformancePackName": "pci-lz-x-pci-dss-v4"}}
    return TemplateModel(
        [
            StackTemplate("PciLz-x-Detection-us-east-1", {"Resources": {"Pack": pack}}, "111111111111", "us-east-1"),
            StackTemplate("PciLz-x-Edge-us-east-1", {"Resources": {}}, "111111111111", "us-east-1"),
        ]
    )


def test_read_deployed_state_summarises_every_part_with_its_retrieval_time(stubbed: Any) -> None:
    cfn = _stub(stubbed, "cloudformation")
    _drift(cfn, "PciLz-x-Detection-us-east-1", "IN_SYNC")
    _drift(cfn, "PciLz-x-Edge-us-east-1", "DRIFTED", drifted=True)
    _pack(_stub(stubbed, "config"), "pci-lz-x-pci-dss-v4", "NON_COMPLIANT", [("iam-password-policy", "NON_COMPLIANT")])
    _hub(_stub(stubbed, "securityhub"), [finding("EC2.13", "FAILED", 1)])

    def clients(service: str, region: str) -> Any:
        return stubbed[(service, region)][0]

    state = live.read_deployed_state(_small_model(), clients, sleep=lambda _: None, now=lambda: RETRIEVED)
    assert state.summary.startswith(f"read from the account at {RETRIEVED}")
    assert "1 of 2 stacks IN_SYNC (PciLz-x-Edge-us-east-1: DRIFTED)" in state.summary
    assert "conformance pack us-east-1 NON_COMPLIANT" in state.summary
    assert "Security Hub PCI DSS v4.0.1: 1 controls FAILED" in state.summary
    assert [p.slug for p in state.papers] == ["deployed-drift", "deployed-conformance", "deployed-security-hub"]
    assert all(RETRIEVED in p.title for p in state.papers)


def test_the_report_carries_the_deployed_state_or_says_it_was_not_verified(
    synthesized: Synthesized, tmp_path: Path, stubbed: Any
) -> None:
    assembly = tmp_path / "cdk.out"
    shutil.copytree(synthesized.outdir, assembly, ignore=shutil.ignore_patterns(EVIDENCE_DIR, "asset.*"))
    model = TemplateModel.from_assembly(assembly)
    results = evaluate(model, RULES)
    write_compliance_evidence(assembly, model=model, results=results, gate=synthesized.gate, report=synthesized.report)
    report = assembly / EVIDENCE_DIR / f"{REPORT_NAME}.md"
    assert f"- Deployed state: {NOT_VERIFIED}" in report.read_text(encoding="utf-8")

    for region, name in sorted((s.region or "", s.name) for s in model.stacks.values()):
        _drift(_stub(stubbed, "cloudformation", region), name, "IN_SYNC")
    for pack, region in live.conformance_packs(model):
        _pack(_stub(stubbed, "config", region), pack, "COMPLIANT", [("s3-bucket-ssl-requests-only", "COMPLIANT")])
    for region in sorted({s.region or "" for s in model.stacks.values()}):
        _hub(_stub(stubbed, "securityhub", region), [finding("S3.5", "PASSED", 1)])

    def clients(service: str, region: str) -> Any:
        return stubbed[(service, region)][0]

    deployed = live.read_deployed_state(model, clients, sleep=lambda _: None, now=lambda: RETRIEVED)
    write_compliance_evidence(
        assembly, model=model, results=results, gate=synthesized.gate, report=synthesized.report, deployed=deployed
    )
    text = report.read_text(encoding="utf-8")
    stacks = len(model.stacks)
    assert f"- Deployed state: read from the account at {RETRIEVED} (make evidence-live): {stacks} of {stacks}" in text
    assert f"### Deployed state: CloudFormation drift (retrieved {RETRIEVED})" in text
    assert (assembly / EVIDENCE_DIR / WORKPAPER_DIR / "deployed-security-hub.csv").is_file()
    assert "Deployed state: not verified" not in (assembly / EVIDENCE_DIR / "diagrams").joinpath(
        next(p.name for p in (assembly / EVIDENCE_DIR / "diagrams").glob("network-*.dot"))
    ).read_text(encoding="utf-8")


# -- the import boundary --------------------------------------------------------------------------------
SYNTH_TIME = ("app.py", "stacks", "pci_constructs", "pci_rules", "compliance", "config", "costs", "evidence")
LIVE_ONLY = {"evidence/live.py"}
FORBIDDEN = ("boto3", "evidence.live", "preflight")


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names |= {f"{node.module}.{alias.name}" for alias in node.names}
    return names


def test_synth_time_code_never_imports_the_live_module_boto3_or_preflight() -> None:
    files = []
    for entry in SYNTH_TIME:
        path = ROOT / entry
        files += [path] if path.is_file() else sorted(path.rglob("*.py"))
    offenders = []
    for file in files:
        relative = file.relative_to(ROOT).as_posix()
        if relative in LIVE_ONLY:
            continue
        for name in _imports(file):
            if any(name == f or name.startswith(f + ".") for f in FORBIDDEN):
                offenders.append(f"{relative}: {name}")
    assert not offenders, offenders
    assert "boto3" in _imports(ROOT / "evidence" / "live.py") or "botocore.exceptions" in _imports(
        ROOT / "evidence" / "live.py"
    )


def test_importing_the_app_loads_neither_boto3_nor_the_live_module() -> None:
    probe = "import sys, app; print(sorted(m for m in ('boto3', 'evidence.live', 'preflight') if m in sys.modules))"
    done = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_the_makefile_target_runs_the_live_module_after_a_synth() -> None:
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    assert "evidence-live:" in makefile
    target = makefile.split("\nevidence-live:", 1)[1].split("\n\n", 1)[0]
    assert "-m evidence.live cdk.out" in target
    assert "$(LZ_ENV)" in target


def test_the_managed_pack_the_custom_resource_deploys_is_read_too(stubbed: Any) -> None:
    """AWS's managed PCI-DSS_V4 pack comes from the templates' custom resource (no AWS::Config::ConformancePack):
    its compliance is read by the name the construct gives it, beside the project's pack."""
    from pci_constructs.detective_controls import MANAGED_PACK_RESOURCE_TYPE

    assert MANAGED_PACK_RESOURCE_TYPE in live.CONFORMANCE_PACK_TYPES
    project = {"Type": "AWS::Config::ConformancePack", "Properties": {"ConformancePackName": "pci-lz-x-pci-dss-v4"}}
    managed = {
        "Type": MANAGED_PACK_RESOURCE_TYPE,
        "Properties": {"ServiceToken": {"Fn::GetAtt": ["F", "Arn"]}, "ConformancePackName": "pci-lz-x-aws-pci-dss-v4"},
    }
    model = TemplateModel(
        [
            StackTemplate(
                "PciLz-x-Detection-us-east-1", {"Resources": {"P": project, "M": managed}}, "111111111111", "us-east-1"
            ),
            StackTemplate("PciLz-x-Detection-eu-west-1", {"Resources": {"M": managed}}, "111111111111", "eu-west-1"),
        ]
    )
    assert live.conformance_packs(model) == [
        ("pci-lz-x-aws-pci-dss-v4", "eu-west-1"),
        ("pci-lz-x-aws-pci-dss-v4", "us-east-1"),
        ("pci-lz-x-pci-dss-v4", "us-east-1"),
    ]
    for region in ("us-east-1", "eu-west-1"):
        _drift(_stub(stubbed, "cloudformation", region), f"PciLz-x-Detection-{region}", "IN_SYNC")
        _hub(_stub(stubbed, "securityhub", region), [finding("S3.5", "PASSED", 1)])
    config_east = _stub(stubbed, "config", "us-east-1")
    _pack(config_east, "pci-lz-x-aws-pci-dss-v4", "NON_COMPLIANT", [("iam-password-policy", "NON_COMPLIANT")])
    _pack(config_east, "pci-lz-x-pci-dss-v4", "COMPLIANT", [("s3-bucket-ssl-requests-only", "COMPLIANT")])
    _stub(stubbed, "config", "eu-west-1").add_client_error(
        "get_conformance_pack_compliance_summary", "NoSuchConformancePackException"
    )

    def clients(service: str, region: str) -> Any:
        return stubbed[(service, region)][0]

    state = live.read_deployed_state(model, clients, sleep=lambda _: None, now=lambda: RETRIEVED)
    # Read-only calls only, each answered: a managed pack missing from a region is stated, never passed.
    assert "conformance pack eu-west-1 not deployed, us-east-1 NON_COMPLIANT, us-east-1 COMPLIANT" in state.summary
    for region in ("us-east-1", "eu-west-1"):
        stubbed[("config", region)][1].assert_no_pending_responses()
