#!/usr/bin/env python3
"""CDK entry point: read the configuration, build the stacks, run the gates.

`cdk synth -c env=NAME` picks an embedded environment; `-c env=path/to/env.json`
reads a file. `-c delivery=default|path/to/delivery.json` builds the multi-account
delivery instead: the pipeline and GitHub OIDC stacks and every environment in its
Stage, every stack of every stage under the same gate. A bad configuration stops here,
before any template is written.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from aws_cdk import App

from compliance.gate import prepare_stage, register_gates, synthesize
from compliance.registry import AcknowledgmentError
from config import ConfigError, load_environment
from config.delivery_loader import load_delivery
from stacks.delivery import build_delivery
from stacks.landing_zone import build_landing_zone

CDK_JSON = Path(__file__).resolve().parent / "cdk.json"


def main() -> int:
    # The CLI hands the app cdk.json's context (feature flags included); a direct
    # `python app.py` run takes the same context as defaults, so both build the same app.
    app = App(context=json.loads(CDK_JSON.read_text(encoding="utf-8"))["context"])
    delivery = app.node.try_get_context("delivery")
    try:
        if delivery:
            build_delivery(app, load_delivery(delivery), selector=delivery, prepare_stage=prepare_stage)
        else:
            build_landing_zone(app, load_environment(app.node.try_get_context("env")))
    except ConfigError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    try:
        gate = register_gates(app)
    except AcknowledgmentError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    _, report = synthesize(app, gate)
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
