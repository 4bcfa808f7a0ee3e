"""pytest-xdist scheduling that builds each session synth once per run, not once per worker.

`--dist loadscope` keeps a test module on one worker, so its module-scoped synths are built once;
but the session synths of tests/conftest.py (`synthesized`, `delivered`: the default app and the
default delivery, about 40 s of CPU together; `environment_synths`: every envs/ file) were built
again by every worker that ran any module using them. They hold live constructs (the gate, the
zones) that cannot be shared between processes, so instead the modules that name them are grouped
into two work units, each run by one worker: `SHARED_UNIT`, every module that names `delivered` or
`environment_synths` (and, most of them, `synthesized` too), and `DEFAULT_SYNTH_UNIT`, every module
that names only `synthesized`. One unit of them all was 184 s of CPU on one worker in a repeat run,
against 112 s for every other module (2026-12-04, `LZ_TEST_CPU`), so it bounded the run; two units
build the default app once in each (about 10 s of CPU more) and the two workers share the rest
(issue #23).

Which modules use them is read from each module's source (a parameter `synthesized: Synthesized`,
`delivered: Delivered` or `environment_synths: EnvironmentSynths`, or `request.getfixturevalue(...)`
of one): a module it misses still passes; it only builds the synth again in its own worker.

Order (issue #23): xdist hands out work units by their number of tests, so a one-test module that takes a
minute (the generated environments, the pre-commit hooks) went last, and the run waited for it while the
other worker was idle; a worker also takes its next unit when at most two of its tests are pending, so
units queued behind such a test waited with it. Units are handed out instead by their cost, largest
first (the longest-processing-time rule): the seconds its modules took in the last run that ran them
(setup, call and teardown of their tests, a session synth charged to the module that first used it,
recorded by the controller in `.test-cache/scheduling/durations.json`, merged so a partial run keeps the
other modules' figures; a module not recorded counts `SECONDS_PER_TEST` a test), and never less than
`FIRST_RUN_SECONDS` (estimates for the units that cost far more than their number of tests says, which
order a fresh clone's first run). Only the order changes:
every test still runs, each unit on one worker.
"""

from __future__ import annotations

import json
import os
import re
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from functools import cache
from pathlib import Path
from typing import Any

from xdist.scheduler import LoadScopeScheduling

from tests.cache import CACHE_ROOT, ROOT

SHARED_UNIT = "tests::session-synths"
DEFAULT_SYNTH_UNIT = "tests::default-synth"


def _uses(*names: str) -> re.Pattern[str]:
    """A test or fixture parameter (the suite is typed: `synthesized: Synthesized`), or a dynamic request."""
    types = {"synthesized": "Synthesized", "delivered": "Delivered", "environment_synths": "EnvironmentSynths"}
    parameters = "|".join(f"{name}: {types[name]}" for name in names)
    requested = "|".join(names)
    return re.compile(rf"\b({parameters})\b|getfixturevalue\(\s*[\"']({requested})[\"']")


_USES_DEFAULT = _uses("synthesized")
_USES_OTHERS = _uses("delivered", "environment_synths")


@cache
def session_synth_unit(module: str) -> str | None:
    """The shared unit of the test module at `module` (a path relative to the repository): `SHARED_UNIT`
    when it names `delivered` or `environment_synths`, `DEFAULT_SYNTH_UNIT` when it names only
    `synthesized`, None when it names no session synth."""
    try:
        source = (ROOT / module).read_text(encoding="utf-8")
    except OSError:
        return None
    if _USES_OTHERS.search(source):
        return SHARED_UNIT
    return DEFAULT_SYNTH_UNIT if _USES_DEFAULT.search(source) else None


def uses_session_synth(module: str) -> bool:
    """Whether the test module at `module` (a path relative to the repository) names a session synth."""
    return session_synth_unit(module) is not None


def work_unit(nodeid: str) -> str:
    """The module of `nodeid` (loadscope's unit), or the shared unit of a session synth's user."""
    scope = nodeid.rsplit("::", 1)[0]
    module = nodeid.split("::", 1)[0]
    shared = session_synth_unit(module) if Path(module).suffix == ".py" else None
    return shared or scope


# Where the controller records each scope's seconds (`record_durations`), read by the next run's scheduler.
DURATIONS = CACHE_ROOT / "scheduling" / "durations.json"
# A scope with no recorded figure costs this many seconds per test.
SECONDS_PER_TEST = 0.05
# Seconds per unit on a fresh clone (no `DURATIONS` yet): the units that cost far more than their number of
# tests says, from a cold `pytest -n 2 --dist loadscope --durations=60` (2026-12-04, load 1-7, sums of
# their listed items, rounded; the two shared units split the one shared unit's estimate of then): the
# floor of each unit's cost, so they order a first run.
FIRST_RUN_SECONDS: dict[str, float] = {
    SHARED_UNIT: 180.0,
    DEFAULT_SYNTH_UNIT: 150.0,
    "tests/test_pre_commit.py": 130.0,
    "tests/test_generated_environments.py": 72.0,
    "tests/test_fork.py": 55.0,
    "tests/test_lambda_bundling.py": 25.0,
    "tests/test_pci_rules_package.py": 20.0,
    "tests/test_app_cli.py": 20.0,
    "tests/vault/test_vault_w19a.py": 16.0,
    "tests/test_packaging.py": 13.0,
    "tests/vault/test_vault_r19d.py": 10.0,
    "tests/test_pci_rules_intrinsics.py": 10.0,
    "tests/test_vault_local.py": 8.0,
    "tests/test_bare_app_constructs.py": 7.0,
    "tests/test_supply_chain.py": 6.0,
}


def read_durations(path: Path = DURATIONS) -> dict[str, float]:
    """The recorded seconds per scope ({module or `module::Class`: seconds}); empty when absent or unreadable."""
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(value, dict):
        return {}
    return {str(k): float(v) for k, v in value.items() if isinstance(v, int | float)}


def record_durations(seconds: Mapping[str, float], path: Path = DURATIONS) -> None:
    """Merge this run's seconds per scope into `path` (scopes this run did not run keep their figure),
    written atomically (a temporary file replaced)."""
    merged = {**read_durations(path), **{scope: round(s, 2) for scope, s in seconds.items()}}
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    temporary.write_text(json.dumps(merged, indent=1, sort_keys=True), encoding="utf-8")
    temporary.replace(path)


def scope_of(nodeid: str) -> str:
    """loadscope's own scope of a test: its module, or its class (`path::Class`)."""
    return nodeid.rsplit("::", 1)[0]


def unit_cost(unit: str, nodeids: Iterable[str], recorded: Mapping[str, float]) -> float:
    """The seconds a work unit is expected to take: the recorded seconds of its scopes (the modules and
    classes of `nodeids`; a scope not recorded counts `SECONDS_PER_TEST` a test), but never less than the
    unit's first-run estimate (a partial run, `pytest FILE`, records only some of the shared unit's
    modules, which would rank it below units it outlasts)."""
    tests: dict[str, int] = {}
    for nodeid in nodeids:
        scope = scope_of(nodeid)
        tests[scope] = tests.get(scope, 0) + 1
    measured = sum(recorded.get(scope, n * SECONDS_PER_TEST) for scope, n in tests.items())
    return max(measured, FIRST_RUN_SECONDS.get(unit, 0.0))


class CostOrderedQueue(OrderedDict[str, dict[str, bool]]):
    """loadscope's work queue ({unit: {nodeid: done}}), whose `popitem` gives the costliest unit first
    (`unit_cost`; ties in insertion order). xdist takes units only through `popitem(last=False)`."""

    def __init__(self, recorded: Mapping[str, float]) -> None:
        super().__init__()
        self.recorded = dict(recorded)

    def popitem(self, last: bool = True) -> tuple[str, dict[str, bool]]:
        if not self:
            raise KeyError("popitem(): the work queue is empty")
        unit = max(self, key=lambda u: unit_cost(u, self[u], self.recorded))
        return unit, self.pop(unit)


class SessionSynthScheduling(LoadScopeScheduling):  # type: ignore[misc]  # xdist is untyped
    def __init__(self, config: Any, log: Any = None) -> None:
        super().__init__(config, log)
        self.workqueue = CostOrderedQueue(read_durations())

    def _split_scope(self, nodeid: str) -> str:
        return work_unit(nodeid)
