"""CPU seconds per test module, for speed work (issue #23): `LZ_TEST_CPU=DIR pytest ...`.

Wall time means little on a shared machine; CPU does not depend on the load. Each test's whole
protocol (its fixtures' setup and teardown included: a module's synth is charged to the module's
first test) is measured as this process's CPU plus its children's: the jsii kernel's Node.js
process (alive, read from /proc) and the finished ones it waited for (cfn-lint, checkov, pip,
dot). Each pytest process writes `DIR/cpu-<worker>.json` ({module: seconds}); `python -m
tests.cpu_report DIR` adds them up and prints the modules by cost. Figures, never assertions.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

_TICKS = os.sysconf("SC_CLK_TCK")


def _live_children_ticks(pid: int) -> int:
    """CPU ticks of the live descendants of `pid` (the kernel lists each thread's children)."""
    total = 0
    try:
        tasks = list(Path(f"/proc/{pid}/task").iterdir())
    except OSError:
        return 0
    for task in tasks:
        try:
            children = (task / "children").read_text().split()
        except OSError:
            continue
        for child in map(int, children):
            try:
                fields = Path(f"/proc/{child}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            total += int(fields[11]) + int(fields[12]) + _live_children_ticks(child)
    return total


def cpu_now() -> float:
    """This process's CPU, its finished children's and its live descendants' (seconds)."""
    times = os.times()
    return (
        time.process_time() + times.children_user + times.children_system + _live_children_ticks(os.getpid()) / _TICKS
    )


class CpuReport:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.by_module: dict[str, float] = {}

    def record(self, module: str, seconds: float) -> None:
        self.by_module[module] = self.by_module.get(module, 0.0) + seconds

    def write(self) -> Path:
        self.directory.mkdir(parents=True, exist_ok=True)
        worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
        target = self.directory / f"cpu-{worker}.json"
        target.write_text(
            json.dumps(dict(sorted(self.by_module.items(), key=lambda kv: -kv[1])), indent=1) + "\n", encoding="utf-8"
        )
        return target


def summary(directory: Path) -> list[tuple[str, float]]:
    total: dict[str, float] = {}
    for file in sorted(directory.glob("cpu-*.json")):
        for module, seconds in json.loads(file.read_text(encoding="utf-8")).items():
            total[module] = total.get(module, 0.0) + seconds
    return sorted(((m, round(s, 2)) for m, s in total.items()), key=lambda row: -row[1])


if __name__ == "__main__":
    rows = summary(Path(sys.argv[1]))
    for module, seconds in rows:
        print(f"{seconds:8.1f}  {module}")
    print(f"{sum(s for _, s in rows):8.1f}  total")
