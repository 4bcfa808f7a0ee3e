"""One synthesis of the default landing zone per test session, shared by every test.

`synthesized` is the app exactly as `make synth` builds it (same cdk.json context,
same gates, same acknowledgments).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import App, cx_api
from aws_cdk import assertions as cdk_assertions

from app import PATH_METADATA_CONTEXT, gate_app
from ci_tools.scanners import ScanBatch, ScanResult
from compliance.gate import Gate, GateReport, gate_zones, prepare_stage, synthesize
from config import EnvironmentConfig, load_environment
from config.delivery import DeliveryConfig
from config.delivery_loader import DEFAULT_DELIVERY, load_delivery
from config.loader import FILE_SUFFIXES
from stacks.delivery import Delivery, build_delivery
from stacks.landing_zone import LandingZone
from tests.cache import CHECKOV_CACHE, LINT_CACHE
from tests.cpu_report import CpuReport, cpu_now

ROOT = Path(__file__).resolve().parent.parent
CDK_CONTEXT: dict[str, Any] = json.loads((ROOT / "cdk.json").read_text())["context"]
# Stack unit tests never bundle Lambda assets (pip downloads): CDK's own switch, no stack selected.
CDK_CONTEXT.setdefault("aws:cdk:bundling-stacks", [])


# tests/test_generated_environments.py: how many environments hypothesis generates, from which seed
# (printed in the session header so a failure reproduces).
GENERATED_EXAMPLES = int(os.environ.get("LZ_GENERATED_EXAMPLES", "12"))
# The default seed is fixed, not drawn per run: `make test` must pass or fail for the code, not for
# the draw, and a red CI run must be the same red run on a laptop. Exploring is a deliberate act:
# LZ_GENERATED_SEED=<n> LZ_GENERATED_EXAMPLES=<many> (seed 1881293589 found the empty Detection
# stack of issue 18, now a fixed test in tests/test_deploy_correctness.py); what a new seed finds
# becomes a fixed test of its own, so the default seed's coverage never has to change to keep it.
GENERATED_SEED = int(os.environ.get("LZ_GENERATED_SEED", "18"))


@pytest.hookimpl(optionalhook=True)  # a pytest-xdist hook: absent with `-p no:xdist`
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """`--dist loadscope` (`make pytest`), with every module that uses a session synth in one work
    unit, so `synthesized` and `delivered` are each built once per run (tests/scheduling.py)."""
    if config.getoption("dist") != "loadscope":
        return None
    from tests.scheduling import SessionSynthScheduling

    return SessionSynthScheduling(config, log)


_CPU_REPORT = CpuReport(Path(os.environ["LZ_TEST_CPU"])) if os.environ.get("LZ_TEST_CPU") else None


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[None]:
    """With LZ_TEST_CPU=DIR: each test's CPU (fixtures and child processes included) per module
    (tests/cpu_report.py)."""
    if _CPU_REPORT is None:
        return (yield)
    start = cpu_now()
    try:
        return (yield)
    finally:
        _CPU_REPORT.record(item.nodeid.split("::", 1)[0], cpu_now() - start)


# Seconds per loadscope scope (module or class) of this run, summed by the controller (or by the one
# process of `-n 0`) and merged into .test-cache/scheduling/durations.json at the end: the next
# `--dist loadscope` run hands out its costliest units first (tests/scheduling.py).
_SCOPE_SECONDS: dict[str, float] = {}


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.when in ("setup", "call", "teardown"):
        from tests.scheduling import scope_of

        scope = scope_of(report.nodeid)
        _SCOPE_SECONDS[scope] = _SCOPE_SECONDS.get(scope, 0.0) + report.duration


def pytest_sessionfinish(session: pytest.Session) -> None:
    if _CPU_REPORT is not None and _CPU_REPORT.by_module:
        _CPU_REPORT.write()
    if _SCOPE_SECONDS and not hasattr(session.config, "workerinput"):  # the controller, not an xdist worker
        from tests.scheduling import record_durations

        record_durations(_SCOPE_SECONDS)


def pytest_report_header() -> str:
    return f"generated environments: LZ_GENERATED_SEED={GENERATED_SEED} LZ_GENERATED_EXAMPLES={GENERATED_EXAMPLES}"


def new_app(outdir: Path, **context: Any) -> App:
    """An App with the project's cdk.json context, as the CLI would build it (construct paths in
    each resource's metadata included, which the v4.0.1 rules and the evidence report name)."""
    return App(outdir=str(outdir), context={**CDK_CONTEXT, PATH_METADATA_CONTEXT: True, **context})


@dataclass
class Synthesized:
    config: EnvironmentConfig
    zone: LandingZone
    gate: Gate
    report: GateReport
    assembly: cx_api.CloudAssembly
    outdir: Path

    def template(self, stack_name: str) -> cdk_assertions.Template:
        artifact = self.assembly.get_stack_by_name(stack_name)
        return cdk_assertions.Template.from_json(artifact.template, skip_cyclical_dependencies_check=True)

    def templates(self) -> Iterator[tuple[str, dict[str, Any]]]:
        for artifact in self.assembly.stacks:
            yield artifact.stack_name, artifact.template


@pytest.fixture(scope="session")
def default_config() -> EnvironmentConfig:
    return load_environment(None)


@pytest.fixture(scope="session")
def synthesized(tmp_path_factory: pytest.TempPathFactory, default_config: EnvironmentConfig) -> Synthesized:
    outdir = tmp_path_factory.mktemp("cdk.out")
    app = new_app(outdir)
    zones, gate = gate_app(app)  # as `make synth` builds and gates it
    zone = zones[0]
    assembly, report = synthesize(app, gate)
    # A finding fails only test_default_app_has_no_unacknowledged_finding (which names it), never
    # every test of the session: CDK has written the templates before validation stopped it.
    if assembly is None:
        assembly = cx_api.CloudAssembly(str(outdir))
    return Synthesized(default_config, zone, gate, report, assembly, outdir)


# --- Issue #14: the multi-account delivery app, synthesized once per session like `make synth DELIVERY=default`.
@dataclass
class Delivered:
    config: DeliveryConfig
    delivery: Delivery
    gate: Gate
    report: GateReport
    assembly: cx_api.CloudAssembly
    outdir: Path

    def template(self, stack_name: str) -> cdk_assertions.Template:
        """A stack of the app or of any stage, by its CloudFormation stack name."""
        artifact = next(s for s in self.assembly.stacks_recursively if s.stack_name == stack_name)
        return cdk_assertions.Template.from_json(artifact.template, skip_cyclical_dependencies_check=True)


@pytest.fixture(scope="session")
def delivered(tmp_path_factory: pytest.TempPathFactory) -> Delivered:
    outdir = tmp_path_factory.mktemp("cdk.out.delivery")
    app = new_app(outdir, delivery=DEFAULT_DELIVERY)
    config = load_delivery(DEFAULT_DELIVERY)
    delivery = build_delivery(app, config, selector=DEFAULT_DELIVERY, prepare_stage=prepare_stage)
    gate = gate_zones(app, [stage.zone for stage in delivery.stages.values()])
    assembly, report = synthesize(app, gate)
    # As in `synthesized`: a finding fails test_default_delivery_passes_the_gate_in_every_stage only.
    if assembly is None:
        assembly = cx_api.CloudAssembly(str(outdir))
    return Delivered(config, delivery, gate, report, assembly, outdir)


# --- Issue #23: the outside scanners once over each session synth the selected tests scan.
BROKEN_PATH = "Broken-us-east-1/Payments/Bucket/Resource"


def write_broken_assembly(outdir: Path) -> None:
    """A one-stack assembly whose bucket has no encryption or logging and a misspelt property."""
    outdir.mkdir(parents=True)
    template = {
        "Resources": {
            "PaymentsBucket": {
                "Type": "AWS::S3::Bucket",
                "Properties": {"BucketNam": "card-data"},
                "Metadata": {"aws:cdk:path": BROKEN_PATH},
            }
        }
    }
    (outdir / "Broken.template.json").write_text(json.dumps(template, indent=1), encoding="utf-8")
    manifest = {
        "version": "1.0.0",
        "artifacts": {
            "Broken": {
                "type": "aws:cloudformation:stack",
                "environment": "aws://111111111111/us-east-1",
                "properties": {"templateFile": "Broken.template.json"},
            }
        },
    }
    (outdir / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")


@pytest.fixture(scope="session")
def outside_scans(
    synthesized: Synthesized, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, dict[str, ScanResult]]:
    """cfn-lint and checkov started once (one batch: one checkov process, one cfn-lint per region) over the
    default app ("default", reports in $SCAN_REPORT_DIR, default cdk.out/compliance/scans/) and a
    deliberately broken one-stack assembly ("broken"), for tests/test_outside_scanners.py's `scans`. Each
    assembly gets its own results by name; unchanged templates come from the per-template caches."""
    report_dir = Path(os.environ.get("SCAN_REPORT_DIR", ROOT / "cdk.out" / "compliance" / "scans"))
    broken = tmp_path_factory.mktemp("broken") / "cdk.out"
    write_broken_assembly(broken)
    assemblies = {"default": (synthesized.outdir, report_dir), "broken": (broken, broken.parent / "reports")}
    return ScanBatch(assemblies, lint_cache=LINT_CACHE, checkov_cache=CHECKOV_CACHE).finish()


@pytest.fixture(scope="session")
def delivery_outside_scans(delivered: Delivered, tmp_path_factory: pytest.TempPathFactory) -> dict[str, ScanResult]:
    """cfn-lint and checkov over the default delivery's assembly, for tests/test_delivery.py's
    `delivery_scans`: its own batch, since the delivery's users and the default app's scanner tests are
    in different work units (tests/scheduling.py), so on different workers."""
    assemblies = {"delivery": (delivered.outdir, tmp_path_factory.mktemp("delivery-scans"))}
    return ScanBatch(assemblies, lint_cache=LINT_CACHE, checkov_cache=CHECKOV_CACHE).finish()["delivery"]


# --- Every environment file in envs/, synthesized once per session (issue 20/23): tests/test_environment_files.py
# gates and scans each, tests/test_evidence_pages.py pages the three-AZ one's diagrams.
ENVS = ROOT / "envs"
SCHEMA = ENVS / "environment.schema.json"
ENV_FILES = sorted(p for p in ENVS.iterdir() if p.suffix in FILE_SUFFIXES and p != SCHEMA)


@dataclass
class EnvironmentSynth:
    """One environment file's synth, as `make synth LZ_ENV=envs/<file>` runs it (its own acknowledgments
    applied); `failure` when the gate stopped synthesis."""

    path: Path
    config: EnvironmentConfig
    gate: Gate
    report: GateReport
    outdir: Path
    stacks: list[str]
    failure: str | None


EnvironmentSynths = dict[Path, EnvironmentSynth]


@pytest.fixture(scope="session")
def environment_synths(tmp_path_factory: pytest.TempPathFactory) -> EnvironmentSynths:
    """Every file of ENV_FILES synthesized in this process (one jsii start-up). Every user is in the
    session synths' work unit (tests/scheduling.py), so one worker builds them once a run."""
    built: EnvironmentSynths = {}
    for path in ENV_FILES:
        outdir = tmp_path_factory.mktemp(path.stem) / "cdk.out"
        app = new_app(outdir, env=str(path.relative_to(ROOT)))
        zones, gate = gate_app(app)
        assembly, report = synthesize(app, gate)
        failure = None
        if assembly is None:
            failure = f"{path.name}: the gate stopped synthesis:\n" + "\n".join(map(str, report.findings))
        stacks = [s.stack_name for s in assembly.stacks] if assembly is not None else []
        built[path] = EnvironmentSynth(path, zones[0].config, gate, report, outdir, stacks, failure)
    return built
