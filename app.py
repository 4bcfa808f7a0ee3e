#!/usr/bin/env python3
"""CDK entry point: read the configuration, build the stacks, run the gates.

`cdk synth -c env=NAME` picks an embedded environment; `-c env=envs/prod.yaml` (or .json)
reads a file (`make synth LZ_ENV=...` passes it). `-c delivery=default|path/to/delivery.json`
(`make synth DELIVERY=...`) builds the multi-account delivery instead: the pipeline and GitHub
OIDC stacks and every environment in its Stage, every stack of every stage under the same gate.
A bad configuration stops here, before any template is written.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from config import ConfigError, load_environment
from config.delivery_loader import load_delivery

CDK_JSON = Path(__file__).resolve().parent / "cdk.json"
# What the CDK CLI sets: each resource's construct path in its metadata ("aws:cdk:path").
PATH_METADATA_CONTEXT = "aws:cdk:enable-path-metadata"
# Where the CDK CLI hands an app its context (aws-cdk-lib cx-api CONTEXT_ENV, CONTEXT_OVERFLOW_LOCATION_ENV):
# App takes cdk.json's context as defaults, then the JSON of the first, then the file the second names.
CONTEXT_ENV = "CDK_CONTEXT_JSON"
CONTEXT_OVERFLOW_LOCATION_ENV = "CONTEXT_OVERFLOW_LOCATION_ENV"


def cli_context(environ: Mapping[str, str] = os.environ) -> dict[str, Any]:
    """The context `main`'s App will hold when run as the CLI runs it, merged in App's own order:
    cdk.json's context, then `CDK_CONTEXT_JSON`, then the overflow file."""
    context: dict[str, Any] = dict(json.loads(CDK_JSON.read_text(encoding="utf-8"))["context"])
    if environ.get(CONTEXT_ENV):
        context.update(json.loads(environ[CONTEXT_ENV]))
    if environ.get(CONTEXT_OVERFLOW_LOCATION_ENV):
        context.update(json.loads(Path(environ[CONTEXT_OVERFLOW_LOCATION_ENV]).read_text(encoding="utf-8")))
    return context


def selected_delivery(context: Mapping[str, Any]) -> Any:
    """The context's `delivery` (None without one); raises ConfigError when an `env` beside it differs from
    cdk.json's own `env` default: a delivery builds the environments it names, so a `-c env=...` given
    with it would be silently ignored. (`-c env=` equal to cdk.json's default cannot be told apart from
    the default the CLI always passes, and changes nothing.)"""
    delivery = context.get("delivery")
    if not delivery:
        return None
    env = context.get("env")
    default_env = json.loads(CDK_JSON.read_text(encoding="utf-8"))["context"].get("env")
    if env is not None and env != default_env:
        raise ConfigError(
            f"both delivery ({delivery!r}) and env ({env!r}) are set (fields: delivery, env): a delivery builds"
            " the environments it names, so env would be ignored; pass -c delivery=... (make DELIVERY=...) or"
            " -c env=... (make LZ_ENV=...), not both"
        )
    return delivery


def check_configuration(context: Mapping[str, Any]) -> None:
    """Load what the context selects (`delivery`, else `env`) as `build_zones` will; raises ConfigError for
    a bad configuration. Needs neither aws_cdk nor jsii's Node process."""
    delivery = selected_delivery(context)
    if delivery:
        load_delivery(delivery)
    else:
        load_environment(context.get("env"))


if __name__ == "__main__":
    # `python app.py` (what `cdk synth` runs): a bad configuration exits 2 with its error in the time it
    # takes to read it, before aws_cdk, jsii's Node process and the stacks are imported. `main` loads it
    # again from the App's context, so an App built another way is checked the same.
    try:
        check_configuration(cli_context())
    except ConfigError as err:
        print(f"error: {err}", file=sys.stderr)
        sys.exit(2)

# Below the check above, so that a bad configuration never waits for them.
from aws_cdk import App  # noqa: E402

from compliance.gate import Gate, GateReport, failure_summary, gate_zones, prepare_stage, synthesize  # noqa: E402
from compliance.registry import AcknowledgmentError  # noqa: E402
from evidence.report import attestation_of, write_compliance_evidence, write_evidence_for_assembly  # noqa: E402
from stacks.delivery import build_delivery  # noqa: E402
from stacks.landing_zone import LandingZone, build_landing_zone  # noqa: E402


def build_zones(app: App) -> list[LandingZone]:
    """The environments the context selects, built in `app`: one (`-c env=`) or every stage's
    (`-c delivery=`). Raises ConfigError for a bad configuration."""
    delivery = selected_delivery({key: app.node.try_get_context(key) for key in ("delivery", "env")})
    if delivery:
        built = build_delivery(app, load_delivery(delivery), selector=delivery, prepare_stage=prepare_stage)
        return [stage.zone for stage in built.stages.values()]
    return [build_landing_zone(app, load_environment(app.node.try_get_context("env")))]


def gate_app(app: App) -> tuple[list[LandingZone], Gate]:
    """Build what the context selects and register the gate on it, as `make synth` does: each
    environment's own acknowledgments apply within its scope (the App, or its Stage in a delivery),
    the registry's `when` conditions are judged per environment. tests/test_environment_files.py
    gates every envs/ file through this same function. Raises ConfigError or AcknowledgmentError."""
    zones = build_zones(app)
    return zones, gate_zones(app, zones)


def write_synth_evidence(outdir: Path, zones: list[LandingZone], gate: Gate, report: GateReport) -> list[Path]:
    """The evidence a synth writes under `<outdir>/compliance/`, from the policy-validation plugin's own
    parse and results (the templates it was handed by path, every Stage's included), with each
    environment's attestation; the files written."""
    plugin = gate.pci_dss_v4
    attestation = attestation_of(zones[0].config.evidence) if len(zones) == 1 else None
    attestations = {zone.config.name: attestation_of(zone.config.evidence) for zone in zones}
    if plugin.model is not None and plugin.results is not None:  # the rules' own parse and results
        return write_compliance_evidence(
            outdir,
            model=plugin.model,
            results=plugin.results,
            gate=gate,
            report=report,
            attestation=attestation,
            attestations=attestations,
        )
    return write_evidence_for_assembly(outdir, gate, report, attestation=attestation)  # validation stopped first


def cli_app() -> App:
    """The App `main` builds: cdk.json's context as defaults, under what the CLI passes (`CDK_CONTEXT_JSON`,
    the overflow file), merged by aws-cdk-lib itself; `cli_context` must select the same `env` and
    `delivery` (tests/test_app_cli.py builds this App under each input shape)."""
    # The CLI hands the app cdk.json's context (feature flags included); a direct
    # `python app.py` run takes the same context as defaults, so both build the same app.
    return App(
        context={
            **json.loads(CDK_JSON.read_text(encoding="utf-8"))["context"],
            PATH_METADATA_CONTEXT: True,  # as the CLI sets it: rules and evidence name construct paths
        }
    )


def main(app: App | None = None) -> int:
    """Build, gate and synthesize `app` (default: an App with cdk.json's context); the exit code.

    0: synthesized and passed the gate; 1: the gate found unacknowledged findings; 2: the
    configuration or the acknowledgment registry is invalid (nothing was synthesized).
    """
    app = app or cli_app()
    try:
        zones, gate = gate_app(app)
    except (ConfigError, AcknowledgmentError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    _, report = synthesize(app, gate)
    if (Path(app.outdir) / "manifest.json").is_file():  # the templates exist even when validation failed
        files = write_synth_evidence(Path(app.outdir), zones, gate, report)
        print(f"compliance evidence: {len(files)} files in {Path(app.outdir).name}/compliance/", file=sys.stderr)
    print(
        f"compliance gate: {len(report.findings)} unacknowledged, {len(report.acknowledged)} acknowledged"
        f" findings, {len(report.unused)} acknowledgments no longer needed; packs: {', '.join(gate.packs)}"
        f"; v4.0.1 plugin {gate.pci_dss_v4.elapsed_s or 0:.2f} s (CPU {gate.pci_dss_v4.cpu_s or 0:.2f} s)",
        file=sys.stderr,
    )
    if not report.passed:  # last, so the pointer to where things are fixed ends the output
        print(f"compliance gate failed:\n{failure_summary(report)}", file=sys.stderr)
    return 0 if report.passed else 1


if __name__ == "__main__":
    sys.exit(main())
