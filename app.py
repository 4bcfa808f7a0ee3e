#!/usr/bin/env python3
"""CDK entry point: read the configuration, build the stacks, run the gates.

`cdk synth -c env=NAME` picks an embedded environment; `-c env=path/to/env.json`
reads a file. A bad configuration stops here, before any template is written.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from aws_cdk import App

from compliance.evidence import write_evidence_for_assembly
from compliance.gate import register_gates, synthesize
from compliance.registry import AcknowledgmentError
from config import ConfigError, load_environment
from stacks.landing_zone import build_landing_zone

CDK_JSON = Path(__file__).resolve().parent / "cdk.json"


def main() -> int:
    # The CLI hands the app cdk.json's context (feature flags included); a direct
    # `python app.py` run takes the same context as defaults, so both build the same app.
    app = App(context=json.loads(CDK_JSON.read_text(encoding="utf-8"))["context"])
    try:
        config = load_environment(app.node.try_get_context("env"))
    except ConfigError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    build_landing_zone(app, config)
    try:
        gate = register_gates(app)
    except AcknowledgmentError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    _, report = synthesize(app, gate)
    if (Path(app.outdir) / "manifest.json").is_file():  # the templates exist even when validation failed
        files = write_evidence_for_assembly(app.outdir, gate, report)
        print(f"compliance evidence: {len(files)} files in {Path(app.outdir).name}/compliance/", file=sys.stderr)
    for finding in report.findings:
        print(f"compliance gate: {finding}", file=sys.stderr)
    print(
        f"compliance gate: {len(report.findings)} unacknowledged, {len(report.acknowledged)} acknowledged"
        f" findings; packs: {', '.join(gate.packs)}",
        file=sys.stderr,
    )
    return 0 if report.passed else 1


if __name__ == "__main__":
    sys.exit(main())
