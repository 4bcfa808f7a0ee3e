"""pytest-xdist scheduling that builds each session synth once per run, not once per worker.

`--dist loadscope` keeps a test module on one worker, so its module-scoped synths are built once;
but the session synths of tests/conftest.py (`synthesized`, `delivered`: the default app and the
default delivery, about 40 s of CPU together; `environment_synths`: every envs/ file) were built
again by every worker that ran any module using them. They hold live constructs (the gate, the
zones) that cannot be shared between processes, so instead every module that names one of them
becomes part of one work unit, run by one worker, which builds each once. The unit is the largest,
so `loadscope` hands it out first and the other worker(s) take the remaining modules meanwhile
(issue #23).

Which modules use them is read from each module's source (a parameter `synthesized: Synthesized`,
`delivered: Delivered` or `environment_synths: EnvironmentSynths`, or `request.getfixturevalue(...)`
of one): a module it misses still passes; it only builds the synth again in its own worker.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

from xdist.scheduler import LoadScopeScheduling

from tests.cache import ROOT

SHARED_UNIT = "tests::session-synths"
# A test or fixture parameter (the suite is typed: `synthesized: Synthesized`), or a dynamic request.
_USES = re.compile(
    r"\b(synthesized: Synthesized|delivered: Delivered|environment_synths: EnvironmentSynths)\b"
    r"|getfixturevalue\(\s*[\"'](synthesized|delivered|environment_synths)[\"']"
)


@cache
def uses_session_synth(module: str) -> bool:
    """Whether the test module at `module` (a path relative to the repository) names a session synth."""
    path = ROOT / module
    try:
        return bool(_USES.search(path.read_text(encoding="utf-8")))
    except OSError:
        return False


def work_unit(nodeid: str) -> str:
    """The module of `nodeid` (loadscope's unit), or the one shared unit for the session synths' users."""
    scope = nodeid.rsplit("::", 1)[0]
    module = nodeid.split("::", 1)[0]
    return SHARED_UNIT if Path(module).suffix == ".py" and uses_session_synth(module) else scope


class SessionSynthScheduling(LoadScopeScheduling):  # type: ignore[misc]  # xdist is untyped
    def _split_scope(self, nodeid: str) -> str:
        return work_unit(nodeid)
