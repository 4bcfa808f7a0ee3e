"""`make bench`: how fast the landing zone synthesizes and tests, as figures (never timed assertions).

Each case runs in a fresh process (a new interpreter and jsii kernel, as `cdk synth`
and CI pay them), several times, interleaved round-robin so that load from other
work on the machine spreads over every case; the table shows medians.

Cases
- floor:      empty App + Stack synth, the jsii start-up floor
- synth-N:    app.py with every gate on, for a configuration of N regions (1, 2, 4),
              built from the default environment with non-overlapping CIDRs and
              per-region placeholder certificate ARNs
- nogates-2:  the 2-region landing zone without the cdk-nag packs or the v4.0.1 plugin (the gates' share)
- v4.0.1 plugin: what the PCI DSS v4.0.1 plugin adds to each gated synth, read from app.py's
              output (its validate(): parsing every template, every rule, the report)
- pytest:     `make pytest` after set-up: every test, on every core (pytest-xdist)
- phases:     one gated 2-region synth in one process split into its phases (benchmarks/phases.py:
              import, constructs, asset bundling, gate registration, Python Aspects, CDK synthesis
              with the cdk-nag packs, the v4.0.1 plugin, evidence), medians of RUNS runs
- evidence:   what the compliance evidence (report + diagrams, dot renders included) adds to
              the 2-region synth: one synth, then `python -m evidence.report` rewrites the
              evidence of that assembly RUNS times in one process (wall and CPU, Python and dot)
- delivery-N: app.py with `-c delivery=` for a delivery of N environments (1, 4, 16), each
              two regions in its own account, every gate on (pipeline, OIDC and every stage);
              timed `--delivery-runs` times (default 1: the 16-environment case takes minutes)

Peak memory is the largest resident set of the case's process tree (wait4 rusage).
"""

from __future__ import annotations

import argparse
import copy
import itertools
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from config import parse_environment
from config.defaults import EMBEDDED_ENVIRONMENTS
from config.delivery_loader import EMBEDDED_DELIVERIES, parse_delivery, placeholder_environment

ROOT = Path(__file__).resolve().parent.parent
PYTHON = str(ROOT / ".venv" / "bin" / "python")
EXTRA_REGIONS = ("us-west-2", "eu-west-1", "eu-central-1", "ap-southeast-2")
TARGET_RATIO = 2.0  # CPU of the gated 2-region synth over the floor's, paired runs (issue #23)
TARGET_PER_REGION_S = 0.5
TARGET_PYTEST_S = 120.0  # pytest wall on 2 cores after set-up (issue #23)
TARGET_PLUGIN_S = 0.5
PLUGIN_TIME = re.compile(r"v4\.0\.1 plugin (\d+\.\d+) s")
PLUGIN_CPU = re.compile(r"v4\.0\.1 plugin \d+\.\d+ s \(CPU (\d+\.\d+) s\)")
TARGET_EVIDENCE_S = 0.5
DELIVERY_SIZES = (1, 4, 16)


def environment(regions: int) -> dict[str, Any]:
    """The default environment with its home region plus `regions - 1` others."""
    base = copy.deepcopy(EMBEDDED_ENVIRONMENTS["default"])
    home = base["home_region"]
    template = base["regions"][home]
    chosen = [home, *[r for r in EXTRA_REGIONS if r != home]][:regions]
    base["regions"] = {}
    for index, region in enumerate(chosen, start=1):
        regional = copy.deepcopy(template)
        regional["vpc_cidr"] = f"10.{10 * index}.0.0/16"
        regional["certificate_arn"] = (
            f"arn:aws:acm:{region}:{base['account']}:certificate/00000000-0000-4000-8000-{index:012d}"
        )
        regional.pop("az_suffixes", None)
        base["regions"][region] = regional
    parse_environment(base, source=f"benchmark {regions} regions")  # fail here, not inside a timed run
    return base


def delivery(environments: int) -> dict[str, Any]:
    """The default delivery with `environments` two-region environments in accounts of their own.

    The last one is production (behind an approval); the others deploy in parallel in one
    pre-production wave before it.
    """
    base = copy.deepcopy(EMBEDDED_DELIVERIES["default"])
    names = [f"env{index:02d}" for index in range(1, environments + 1)]
    base["environments"] = [
        {
            "kind": "production" if name == names[-1] else "pre-production",
            "config": placeholder_environment(name, f"{200000000000 + index}", (2 * index, 2 * index + 1)),
        }
        for index, name in enumerate(names, start=1)
    ]
    pre = [{"environment": name} for name in names[:-1]]
    base["waves"] = [
        *([{"name": "PreProduction", "stages": pre}] if pre else []),
        {"name": "Production", "stages": [{"environment": names[-1], "approval": True}]},
    ]
    parse_delivery(base, source=f"benchmark delivery of {environments}")  # fail here, not inside a timed run
    return base


@dataclass
class Case:
    name: str
    cmd: list[str]
    env: dict[str, str] = field(default_factory=dict)
    # Exit 1 is the gate reporting findings after a complete synth: timed all the same, and flagged.
    allowed_exits: frozenset[int] = frozenset({0})
    exits: list[int] = field(default_factory=list)
    walls: list[float] = field(default_factory=list)
    peaks_mib: list[float] = field(default_factory=list)
    plugin_s: list[float] = field(default_factory=list)  # the v4.0.1 plugin's time, when app.py reports it
    plugin_cpu_s: list[float] = field(default_factory=list)  # and its CPU time
    # CPU seconds of the case's process tree (wait4: its own and every descendant it waited for, Node.js included)
    cpus: list[float] = field(default_factory=list)

    @property
    def median(self) -> float:
        return statistics.median(self.walls)

    def row(self) -> dict[str, Any]:
        return {
            "case": self.name,
            "runs": len(self.walls),
            "median_s": round(self.median, 2),
            "min_s": round(min(self.walls), 2),
            "max_s": round(max(self.walls), 2),
            "peak_rss_mib": round(max(self.peaks_mib), 1),
            "walls_s": [round(w, 3) for w in self.walls],
            "median_cpu_s": round(statistics.median(self.cpus), 2) if self.cpus else None,
            "exit_codes": sorted(set(self.exits)),
        }


def measure(case: Case, workdir: Path) -> None:
    outdir = Path(tempfile.mkdtemp(prefix=f"{case.name}-", dir=workdir))
    env = {**os.environ, **case.env, "CDK_OUTDIR": str(outdir)}
    cmd = [part.replace("{outdir}", str(outdir)) for part in case.cmd]
    log = outdir.with_suffix(".log")
    with log.open("wb") as sink:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=sink, stderr=subprocess.STDOUT)  # noqa: S603
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode not in case.allowed_exits:
        tail = log.read_text(encoding="utf-8", errors="replace")[-3000:]
        raise SystemExit(f"bench case {case.name} failed (exit {proc.returncode}):\n{tail}")
    case.exits.append(proc.returncode)
    case.walls.append(wall)
    output = log.read_text(encoding="utf-8", errors="replace")
    if plugin := PLUGIN_TIME.search(output):
        case.plugin_s.append(float(plugin.group(1)))
    if plugin_cpu := PLUGIN_CPU.search(output):
        case.plugin_cpu_s.append(float(plugin_cpu.group(1)))
    case.peaks_mib.append(usage.ru_maxrss / 1024)  # KiB on Linux
    case.cpus.append(usage.ru_utime + usage.ru_stime)
    shutil.rmtree(outdir, ignore_errors=True)
    log.unlink(missing_ok=True)


def evidence_cost(env_file: Path, workdir: Path, runs: int) -> dict[str, Any]:
    """Seconds the compliance evidence adds to a synth of `env_file` (see the module docstring)."""
    outdir = workdir / "evidence-assembly"
    context = json.dumps({"env": str(env_file)})
    env = {**os.environ, "CDK_OUTDIR": str(outdir), "CDK_CONTEXT_JSON": context}
    subprocess.run([PYTHON, "app.py"], cwd=ROOT, env=env, check=True, capture_output=True)  # noqa: S603
    timed = subprocess.run(  # noqa: S603
        [PYTHON, "-m", "evidence.report", str(outdir), "--repeat", str(runs)],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    result: dict[str, Any] = json.loads(timed.stdout.strip().splitlines()[-1])
    shutil.rmtree(outdir, ignore_errors=True)
    return result


def _machine() -> dict[str, Any]:
    node = subprocess.run(["node", "--version"], capture_output=True, text=True, check=False).stdout.strip()  # noqa: S607
    mem = next(
        (line.split()[1] for line in Path("/proc/meminfo").read_text().splitlines() if line.startswith("MemTotal")),
        "?",
    )
    return {
        "date_utc": time.strftime("%Y-%m-%d %H:%M", time.gmtime()),
        "cpus": os.cpu_count(),
        "memory_gib": round(int(mem) / 1024 / 1024, 1) if mem.isdigit() else mem,
        "platform": platform.platform(),
        "python": platform.python_version(),
        "node": node,
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
    }


def _verdict(value: float, target: float) -> str:
    return "meets" if value <= target else "MISSES"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Benchmark synth and test-suite time.")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--out", type=Path, default=ROOT / "cdk.out" / "benchmarks" / "bench.json")
    parser.add_argument("--skip-tests", action="store_true", help="leave out the `make pytest` case")
    parser.add_argument("--delivery-runs", type=int, default=1, help="runs of each delivery-N case (0: none)")
    parser.add_argument("--record", action="store_true", help="write benchmarks/bench.json and the README's table")
    args = parser.parse_args(argv)

    workdir = Path(tempfile.mkdtemp(prefix="pci-lz-bench-"))
    env_files = {}
    for regions in (1, 2, 4):
        env_files[regions] = workdir / f"env-{regions}-regions.json"
        env_files[regions].write_text(json.dumps(environment(regions)), encoding="utf-8")

    def gated(regions: int) -> Case:
        context = json.dumps({"env": str(env_files[regions])})
        # One region has no second region for the log archive's replica: the gate flags that (exit 1).
        allowed = frozenset({0, 1}) if regions == 1 else frozenset({0})
        return Case(f"synth-{regions}", [PYTHON, "app.py"], env={"CDK_CONTEXT_JSON": context}, allowed_exits=allowed)

    cases = [
        Case("floor", [PYTHON, "-m", "benchmarks.synth_case", "floor", "{outdir}"]),
        gated(1),
        gated(2),
        gated(4),
        Case("nogates-2", [PYTHON, "-m", "benchmarks.synth_case", "nogates", "{outdir}", str(env_files[2])]),
    ]
    if not args.skip_tests:
        cases.append(Case("pytest", ["make", "--no-print-directory", "pytest"]))
    deliveries = []
    for size in DELIVERY_SIZES if args.delivery_runs > 0 else ():
        path = workdir / f"delivery-{size}.json"
        path.write_text(json.dumps(delivery(size)), encoding="utf-8")
        deliveries.append(
            Case(f"delivery-{size}", [PYTHON, "app.py"], env={"CDK_CONTEXT_JSON": json.dumps({"delivery": str(path)})})
        )
    machine = _machine()
    print(f"bench: {args.runs} runs of {len(cases)} cases, round-robin; machine {machine}", file=sys.stderr)
    for run in range(args.runs):
        for case in cases:
            measure(case, workdir)
            print(f"  run {run + 1}: {case.name:<10} {case.walls[-1]:6.2f} s", file=sys.stderr)
    phases = phase_breakdown(env_files[2], workdir, args.runs)
    evidence = evidence_cost(env_files[2], workdir, args.runs)
    print(f"  evidence: {evidence}", file=sys.stderr)
    for run in range(args.delivery_runs):
        for case in deliveries:
            measure(case, workdir)
            print(f"  run {run + 1}: {case.name:<11} {case.walls[-1]:6.2f} s", file=sys.stderr)
    shutil.rmtree(workdir, ignore_errors=True)

    by_name = {c.name: c for c in cases}
    floor, s1, s2, s4 = (by_name[n].median for n in ("floor", "synth-1", "synth-2", "synth-4"))
    nogates = by_name["nogates-2"].median
    best = {n: min(by_name[n].walls) for n in ("floor", "synth-1", "synth-2", "synth-4", "nogates-2")}
    cpu = {n: statistics.median(by_name[n].cpus) for n in ("floor", "synth-2")}
    paired = [s / f for s, f in zip(by_name["synth-2"].cpus, by_name["floor"].cpus, strict=True)]
    derived: dict[str, Any] = {
        "synth2_over_floor_cpu": round(cpu["synth-2"] / cpu["floor"], 2),
        "synth2_over_floor_cpu_paired_median": round(statistics.median(paired), 2),
        "floor_cpu_s": round(cpu["floor"], 2),
        "synth2_cpu_s": round(cpu["synth-2"], 2),
        "synth2_over_floor": round(s2 / floor, 2),
        "synth2_over_floor_best_of_runs": round(best["synth-2"] / best["floor"], 2),
        "per_extra_region_s_1_to_4": round((s4 - s1) / 3, 2),
        "per_extra_region_s_1_to_2": round(s2 - s1, 2),
        "per_extra_region_s_2_to_4": round((s4 - s2) / 2, 2),
        "gates_share_of_synth2": round((s2 - nogates) / s2, 3),
        "gates_cost_s": round(s2 - nogates, 2),
        "gates_share_of_synth2_best_of_runs": round((best["synth-2"] - best["nogates-2"]) / best["synth-2"], 3),
    }
    plugin_runs = by_name["synth-2"].plugin_s
    if plugin_runs:
        derived["pci_v4_plugin_s_synth2"] = round(statistics.median(plugin_runs), 3)
        derived["pci_v4_plugin_s_synth4"] = round(statistics.median(by_name["synth-4"].plugin_s or [0.0]), 3)
    if by_name["synth-2"].plugin_cpu_s:
        derived["pci_v4_plugin_cpu_s_synth2"] = round(statistics.median(by_name["synth-2"].plugin_cpu_s), 3)
    # 2 -> 4 is the headline: 1 -> 2 also adds the one-off audit replica stack.
    per_region = derived["per_extra_region_s_2_to_4"]
    targets = {
        "synth2_over_floor (CPU, paired) <= 2.0": _verdict(
            derived["synth2_over_floor_cpu_paired_median"], TARGET_RATIO
        ),
        "per_extra_region (2 -> 4) <= 0.5 s": _verdict(per_region, TARGET_PER_REGION_S),
    }
    if "pci_v4_plugin_s_synth2" in derived:
        targets["pci_v4_plugin (2 regions) <= 0.5 s"] = _verdict(derived["pci_v4_plugin_s_synth2"], TARGET_PLUGIN_S)
    if "pci_v4_plugin_cpu_s_synth2" in derived:
        targets["pci_v4_plugin CPU (2 regions) <= 0.5 s"] = _verdict(
            derived["pci_v4_plugin_cpu_s_synth2"], TARGET_PLUGIN_S
        )
    derived["evidence_s"] = evidence["median_s"]
    derived["evidence_first_s"] = evidence["first_s"]
    derived["evidence_cpu_s"] = round(evidence["python_cpu_s"] + evidence["dot_and_git_cpu_s"], 3)
    targets["compliance evidence (2 regions) <= 0.5 s"] = _verdict(derived["evidence_s"], TARGET_EVIDENCE_S)
    if "pytest" in by_name:
        derived["pytest_s"] = round(by_name["pytest"].median, 2)
        derived["pytest_cpu_s"] = round(statistics.median(by_name["pytest"].cpus), 1)
        targets["pytest (wall, 2 cores) <= 120 s"] = _verdict(derived["pytest_s"], TARGET_PYTEST_S)
    derived["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]

    print(f"\n{'case':<11}{'median s':>9}{'min s':>8}{'max s':>8}{'peak MiB':>10}  runs")
    for case in cases:
        row = case.row()
        print(
            f"{row['case']:<11}{row['median_s']:>9.2f}{row['min_s']:>8.2f}{row['max_s']:>8.2f}"
            f"{row['peak_rss_mib']:>10.0f}  {row['runs']}"
            + ("  (gate reported findings: exit 1)" if 1 in row["exit_codes"] else "")
        )
    print()
    print(
        f"synth (2 regions, every gate) / floor  {derived['synth2_over_floor_cpu_paired_median']:>6.2f} x CPU"
        f"  target <= 2.0 x   (paired runs; medians {derived['synth2_cpu_s']:.1f} s / {derived['floor_cpu_s']:.1f} s)"
    )
    print(f"  same, wall                             {derived['synth2_over_floor']:>6.2f} x")
    print(f"  same, fastest run of each              {derived['synth2_over_floor_best_of_runs']:>6.2f} x")
    print(f"extra region, 2 -> 4 (each)            {derived['per_extra_region_s_2_to_4']:>6.2f} s    target <= 0.5 s")
    print(f"extra region, 1 -> 4 (each)            {derived['per_extra_region_s_1_to_4']:>6.2f} s")
    print(f"extra region, 1 -> 2 (+ audit replica) {derived['per_extra_region_s_1_to_2']:>6.2f} s")
    print(
        f"cdk-nag gates' share of the synth      {100 * derived['gates_share_of_synth2']:>6.1f} %"
        f"    ({derived['gates_cost_s']:.2f} s)"
    )
    print(f"  same, fastest run of each              {100 * derived['gates_share_of_synth2_best_of_runs']:>6.1f} %")
    if "pci_v4_plugin_s_synth2" in derived:
        print(
            f"v4.0.1 plugin, 2 regions (4 regions)   {derived['pci_v4_plugin_s_synth2']:>6.2f} s"
            f"    ({derived['pci_v4_plugin_s_synth4']:.2f} s)   target <= 0.5 s"
        )
    if "pci_v4_plugin_cpu_s_synth2" in derived:
        print(
            f"v4.0.1 plugin CPU, 2 regions           {derived['pci_v4_plugin_cpu_s_synth2']:>6.2f} s    target <= 0.5 s"
        )
    print(
        f"compliance evidence, 2 regions         {derived['evidence_s']:>6.2f} s    target <= 0.5 s"
        f"    (first run {derived['evidence_first_s']:.2f} s; CPU {evidence['python_cpu_s']:.2f} s Python"
        f" + {evidence['dot_and_git_cpu_s']:.2f} s dot/git, renders concurrent)"
    )
    if "pytest_s" in derived:
        print(f"pytest (after set-up, every core)      {derived['pytest_s']:>6.2f} s    target <= 120 s")
    _print_phases(phases)
    print(f"load average: {machine['load_average_at_start']} at start, {derived['load_average_at_end']} at end")
    for target, verdict in targets.items():
        print(f"  {verdict:<7} {target}")
    if deliveries:
        derived["delivery"] = _delivery_figures(deliveries)
        _print_delivery(derived["delivery"])

    args.out.parent.mkdir(parents=True, exist_ok=True)
    result = {
        "machine": machine,
        "cases": [c.row() for c in (*cases, *deliveries)],
        "derived": derived,
        "evidence": evidence,
        "phases": phases,
        "targets": targets,
        "note": "figures, not pass/fail: the machine is shared and timings are noisy",
    }
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(f"\nwritten: {args.out}")
    if args.record:
        RECORD.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
        write_readme_table(result)
        print(f"written: {RECORD.relative_to(ROOT)} and README.md's speed table")
    return 0


RECORD = ROOT / "benchmarks" / "bench.json"
README = ROOT / "README.md"
TABLE_START = "<!-- make bench --record: start -->"
TABLE_END = "<!-- make bench --record: end -->"


def readme_table(result: dict[str, Any]) -> str:
    """The README's speed table (issue #23), from a recorded `make bench` result (benchmarks/bench.json)."""
    machine, derived, phases = result["machine"], result["derived"], result["phases"]
    cases = {row["case"]: row for row in result["cases"]}

    def cpu(case: str) -> float:
        return float(cases[case]["median_cpu_s"])

    rows = [
        f"Recorded {machine['date_utc']} UTC on {machine['cpus']} CPUs, load average"
        f" {machine['load_average_at_start'][0]:.1f} at start and {derived['load_average_at_end'][0]:.1f} at end,"
        f" Python {machine['python']}, Node.js {machine['node']}, {cases['floor']['runs']} run(s) of each case.",
        "",
        "| phase of one gated synth (2 regions) | wall s | Python CPU s | Node.js/pip/dot CPU s | calls |",
        "|---|---|---|---|---|",
    ]
    for name in (*PHASE_ORDER, *(n for n in phases if n not in PHASE_ORDER)):
        if name in phases:
            row = phases[name]
            rows.append(
                f"| {PHASE_LABELS.get(name, name)} | {row['wall_s']:.2f} | {row['cpu_s']:.2f}"
                f" | {row['child_cpu_s']:.2f} | {row['calls']:.0f} |"
            )
    pytest_cell = (
        f"{derived['pytest_s']:.0f} s wall, {derived.get('pytest_cpu_s', float('nan')):.0f} s CPU"
        if "pytest_s" in derived
        else "not in this record (`--skip-tests`)"
    )
    rows += [
        "",
        "| figure (`make bench`) | measured | target |",
        "|---|---|---|",
        f"| gated 2-region synth / empty App+Stack synth, CPU (paired runs) | "
        f"{derived['synth2_over_floor_cpu_paired_median']:.2f}x ({derived['synth2_cpu_s']:.1f} s /"
        f" {derived['floor_cpu_s']:.1f} s) | <= {TARGET_RATIO:.1f}x |",
        f"| same, wall | {derived['synth2_over_floor']:.2f}x | |",
        f"| the 2-region landing zone without cdk-nag packs or the v4.0.1 plugin / floor, CPU |"
        f" {cpu('nogates-2') / cpu('floor'):.2f}x ({cpu('nogates-2'):.1f} s) | |",
        f"| each extra region, 2 -> 4, CPU (wall) | {(cpu('synth-4') - cpu('synth-2')) / 2:.2f} s"
        f" ({derived['per_extra_region_s_2_to_4']:.2f} s) | <= {TARGET_PER_REGION_S} s |",
        f"| cdk-nag gates' share of the 2-region synth, wall | {100 * derived['gates_share_of_synth2']:.0f} % | |",
        f"| `make pytest` after set-up | {pytest_cell} | <= {TARGET_PYTEST_S:.0f} s wall |",
    ]
    return "\n".join([TABLE_START, *rows, TABLE_END])


def write_readme_table(result: dict[str, Any], readme: Path = README) -> None:
    text = readme.read_text(encoding="utf-8")
    start, end = text.index(TABLE_START), text.index(TABLE_END) + len(TABLE_END)
    readme.write_text(text[:start] + readme_table(result) + text[end:], encoding="utf-8")


def phase_breakdown(env_file: Path, workdir: Path, runs: int) -> dict[str, dict[str, float]]:
    """Medians over `runs` fresh processes of each phase of one gated synth (benchmarks/phases.py)."""
    samples: dict[str, list[dict[str, float]]] = {}
    for run in range(runs):
        outdir = Path(tempfile.mkdtemp(prefix="phases-", dir=workdir))
        done = subprocess.run(  # noqa: S603
            [PYTHON, "-m", "benchmarks.phases", str(outdir), str(env_file)],
            cwd=ROOT,
            check=True,
            capture_output=True,
            text=True,
        )
        shutil.rmtree(outdir, ignore_errors=True)
        phases: dict[str, dict[str, float]] = json.loads(done.stdout.strip().splitlines()[-1])["phases"]
        for name, figures in phases.items():
            samples.setdefault(name, []).append(figures)
        print(f"  run {run + 1}: phases     {sum(p['wall_s'] for p in phases.values()):6.2f} s", file=sys.stderr)
    return {
        name: {key: round(statistics.median(r[key] for r in rows), 3) for key in rows[0]}
        for name, rows in samples.items()
    }


PHASE_ORDER = ("import", "constructs", "bundling", "gate", "aspects", "synth", "pci_plugin", "evidence")
PHASE_LABELS = {
    "import": "import (jsii start-up)",
    "constructs": "constructs",
    "bundling": "asset bundling",
    "gate": "gate registration",
    "aspects": "Python Aspects",
    "synth": "CDK synth + cdk-nag",
    "pci_plugin": "v4.0.1 plugin",
    "evidence": "evidence (Python+dot)",
}


def _print_phases(phases: dict[str, dict[str, float]]) -> None:
    print("\none gated synth, 2 regions, by phase (medians; child = Node.js, pip, dot)")
    print(f"{'phase':<24}{'wall s':>8}{'Python CPU s':>14}{'child CPU s':>13}{'calls':>7}")
    for name in (*PHASE_ORDER, *(n for n in phases if n not in PHASE_ORDER)):
        if name in phases:
            row = phases[name]
            print(
                f"{PHASE_LABELS.get(name, name):<24}{row['wall_s']:>8.2f}{row['cpu_s']:>14.2f}"
                f"{row['child_cpu_s']:>13.2f}{row['calls']:>7.0f}"
            )


def _delivery_figures(deliveries: Sequence[Case]) -> list[dict[str, Any]]:
    """Per delivery size: total time and peak memory, and both per environment (flat = linear total)."""
    rows = []
    for case in deliveries:
        size = int(case.name.rsplit("-", 1)[1])
        rows.append(
            {
                "environments": size,
                "median_s": round(case.median, 2),
                "s_per_environment": round(case.median / size, 2),
                "peak_rss_mib": round(max(case.peaks_mib), 1),
                "peak_mib_per_environment": round(max(case.peaks_mib) / size, 1),
            }
        )
    for smaller, larger in itertools.pairwise(rows):
        added = larger["environments"] - smaller["environments"]
        larger["s_per_added_environment"] = round((larger["median_s"] - smaller["median_s"]) / added, 2)
        larger["mib_per_added_environment"] = round((larger["peak_rss_mib"] - smaller["peak_rss_mib"]) / added, 1)
    return rows


def _print_delivery(rows: Sequence[dict[str, Any]]) -> None:
    print("\ndelivery (2 regions per environment, every gate, pipeline + OIDC stacks)")
    print(f"{'envs':>5}{'total s':>9}{'s/env':>8}{'s/added env':>13}{'peak MiB':>10}{'MiB/env':>9}{'MiB/added':>11}")
    for row in rows:
        print(
            f"{row['environments']:>5}{row['median_s']:>9.2f}{row['s_per_environment']:>8.2f}"
            f"{row.get('s_per_added_environment', float('nan')):>13.2f}{row['peak_rss_mib']:>10.0f}"
            f"{row['peak_mib_per_environment']:>9.0f}{row.get('mib_per_added_environment', float('nan')):>11.0f}"
        )


if __name__ == "__main__":
    sys.exit(main())
