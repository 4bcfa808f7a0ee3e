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
import sys
from pathlib import Path

from aws_cdk import App

from compliance.gate import Gate, GateReport, failure_summary, gate_zones, prepare_stage, synthesize
from compliance.registry import AcknowledgmentError
from config import ConfigError, load_environment
from config.delivery_loader import load_delivery
from evidence.report import attestation_of, write_compliance_evidence, write_evidence_for_assembly
from stacks.delivery import build_delivery
from stacks.landing_zone import LandingZone, build_landing_zone

CDK_JSON = Path(__file__).resolve().parent / "cdk.json"
# What the CDK CLI sets: each resource's construct path in its metadata ("aws:cdk:path").
PATH_METADATA_CONTEXT = "aws:cdk:enable-path-metadata"


def build_zones(app: App) -> list[LandingZone]:
    """The environments the context selects, built in `app`: one (`-c env=`) or every stage's
    (`-c delivery=`). Raises ConfigError for a bad configuration."""
    delivery = app.node.try_get_context("delivery")
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


def main(app: App | None = None) -> int:
    """Build, gate and synthesize `app` (default: an App with cdk.json's context); the exit code.

    0: synthesized and passed the gate; 1: the gate found unacknowledged findings; 2: the
    configuration or the acknowledgment registry is invalid (nothing was synthesized).
    """
    # The CLI hands the app cdk.json's context (feature flags included); a direct
    # `python app.py` run takes the same context as defaults, so both build the same app.
    app = app or App(
        context={
            **json.loads(CDK_JSON.read_text(encoding="utf-8"))["context"],
            PATH_METADATA_CONTEXT: True,  # as the CLI sets it: rules and evidence name construct paths
        }
    )
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
