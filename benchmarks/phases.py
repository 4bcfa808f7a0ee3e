"""One gated synth in one process, split into its phases (`make bench` prints them; figures, not tests).

    python -m benchmarks.phases OUTDIR ENV.json   # prints one JSON line of seconds per phase

Phases, each as wall seconds, this process's CPU (Python) and its children's CPU (the jsii kernel's
Node.js process, pip, dot); a phase timed inside another is taken out of its parent's row, so the
rows add up to the whole run:
- import:        importing aws_cdk, cdk_nag and the project (jsii kernel start-up included)
- constructs:    building every stack of the environment (build_landing_zone), without:
  - bundling:    local asset bundling (pci_constructs/lambda_bundling.py: pip for the Lambda platform,
                 cached by content; CDK bundles while the construct is built)
- gate:          registering the cdk-nag packs and the v4.0.1 plugin, acknowledgments, checkov skips
- synth:         app.synth(): CDK's own synthesis and the cdk-nag packs (JavaScript, behind the bridge;
                 `make bench` separates the packs with the paired nogates-2 case), without:
  - aspects:     the project's Python Aspects' visit() (each visit is a jsii callback)
  - pci_plugin:  the PCI DSS v4.0.1 plugin's validate() (pure Python over the rendered templates)
- evidence:      the compliance evidence from the plugin's model and results (Python, and the Graphviz
                 renders as child CPU)
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def children_cpu_s() -> float:
    """CPU seconds of this process's children: the jsii kernel's Node.js process (alive, read from
    /proc) and the finished ones it waited for (pip, Graphviz: os.times)."""
    ticks = os.sysconf("SC_CLK_TCK")
    parents: dict[int, int] = {}
    used: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        pid = int(stat.parent.name)
        parents[pid] = int(fields[1])  # ppid; utime and stime are fields 11 and 12 after the name
        used[pid] = int(fields[11]) + int(fields[12])
    mine = {os.getpid()}
    grew = True
    while grew:  # every descendant (the runtime may start Node.js through a shell)
        found = {pid for pid, ppid in parents.items() if ppid in mine} - mine
        grew = bool(found)
        mine |= found
    live = sum(used[pid] for pid in mine if pid != os.getpid())
    times = os.times()
    return live / ticks + times.children_user + times.children_system


class Clock:
    """Wall, Python CPU and child (Node.js, pip, dot) CPU seconds per phase; a phase inside another
    is counted in its own row and taken out of its parent's (`own` figures add up to the total)."""

    def __init__(self) -> None:
        self.phases: dict[str, dict[str, float]] = {}
        self._open: list[str] = []

    @contextmanager
    def phase(self, name: str, *, children: bool = True) -> Iterator[None]:
        """`children=False` for phases entered thousands of times (an Aspect's visit): reading /proc
        there would cost more than what is measured."""
        sample = children_cpu_s if children else (lambda: 0.0)
        start = (time.perf_counter(), time.process_time(), sample())
        self._open.append(name)
        try:
            yield
        finally:
            self._open.pop()
            spent = (time.perf_counter() - start[0], time.process_time() - start[1], sample() - start[2])
            slot = self.phases.setdefault(name, {"wall_s": 0.0, "cpu_s": 0.0, "child_cpu_s": 0.0, "calls": 0})
            for key, value in zip(("wall_s", "cpu_s", "child_cpu_s"), spent, strict=True):
                slot[key] += value
            slot["calls"] += 1
            if self._open:  # the parent's own time leaves this phase out
                parent = self.phases.setdefault(
                    self._open[-1], {"wall_s": 0.0, "cpu_s": 0.0, "child_cpu_s": 0.0, "calls": 0}
                )
                for key, value in zip(("wall_s", "cpu_s", "child_cpu_s"), spent, strict=True):
                    parent[key] -= value

    def wrap(self, owner: type, method: str, name: str, *, children: bool = True) -> None:
        """Time every call of `owner.method` under `name` (the class keeps its jsii registration)."""
        original: Callable[..., Any] = getattr(owner, method)
        clock = self

        def timed(*args: Any, **kwargs: Any) -> Any:
            with clock.phase(name, children=children):
                return original(*args, **kwargs)

        setattr(owner, method, timed)


def main(argv: list[str]) -> int:
    outdir, env_file = argv[0], argv[1]
    clock = Clock()
    with clock.phase("import"):
        from aws_cdk import App

        from app import PATH_METADATA_CONTEXT, build_zones
        from compliance.gate import gate_zones, synthesize
        from evidence.report import write_compliance_evidence
        from pci_constructs import lambda_bundling
        from pci_constructs.permissions_boundary import PermissionsBoundaryAspect
        from pci_rules.plugin import PciDssV4Plugin
    clock.wrap(PermissionsBoundaryAspect, "visit", "aspects", children=False)
    clock.wrap(lambda_bundling._PipBundler, "try_bundle", "bundling")
    clock.wrap(PciDssV4Plugin, "validate", "pci_plugin")
    context = json.loads((ROOT / "cdk.json").read_text(encoding="utf-8"))["context"]
    app = App(outdir=outdir, context={**context, PATH_METADATA_CONTEXT: True, "env": env_file})
    with clock.phase("constructs"):
        zones = build_zones(app)
    with clock.phase("gate"):
        gate = gate_zones(app, zones)
    with clock.phase("synth"):  # its own time: CDK's synthesis and the cdk-nag packs (JavaScript)
        _, report = synthesize(app, gate)
    plugin = gate.pci_dss_v4
    if plugin.model is not None and plugin.results is not None:
        with clock.phase("evidence"):
            write_compliance_evidence(app.outdir, model=plugin.model, results=plugin.results, gate=gate, report=report)
    rounded = {k: {f: round(v, 3) for f, v in p.items()} for k, p in clock.phases.items()}
    print(json.dumps({"phases": rounded, "passed": report.passed, "plugin_elapsed_s": plugin.elapsed_s}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
