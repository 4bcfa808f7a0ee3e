"""One synthesis in a fresh interpreter, as `make bench` times it.

    python -m benchmarks.synth_case floor OUTDIR            # empty App + Stack: jsii start-up floor
    python -m benchmarks.synth_case nogates OUTDIR ENV.json  # the landing zone, no cdk-nag packs

The gated case is app.py itself (CDK_OUTDIR / CDK_CONTEXT_JSON set), exactly what `cdk synth` runs.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main(argv: list[str]) -> int:
    mode, outdir = argv[0], argv[1]
    if mode == "floor":
        from aws_cdk import App, Stack

        app = App(outdir=outdir)
        Stack(app, "Empty")
        app.synth()
        return 0
    if mode == "nogates":
        from aws_cdk import App

        from config import load_environment
        from stacks.landing_zone import build_landing_zone

        context = json.loads((ROOT / "cdk.json").read_text(encoding="utf-8"))["context"]
        app = App(outdir=outdir, context={**context, "env": argv[2]})
        build_landing_zone(app, load_environment(argv[2]))
        app.synth()
        return 0
    print(f"unknown mode {mode!r}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
