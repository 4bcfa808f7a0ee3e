"""The xdist scheduling of tests/scheduling.py: the session synths' users share one of two work units, handed out
costliest first (issue #23)."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

from hypothesis import given
from hypothesis import strategies as st

from tests.scheduling import (
    DEFAULT_SYNTH_UNIT,
    FIRST_RUN_SECONDS,
    SECONDS_PER_TEST,
    SHARED_UNIT,
    CostOrderedQueue,
    SessionSynthScheduling,
    read_durations,
    record_durations,
    unit_cost,
    uses_session_synth,
    work_unit,
)


def test_modules_that_use_a_session_synth_share_one_of_two_units() -> None:
    assert uses_session_synth("tests/test_gate.py")  # synthesized
    assert uses_session_synth("tests/test_deploy_workflow.py")  # delivered only
    # Only the default app: the default synth's unit (built again there, so the two workers share the rest).
    assert work_unit("tests/test_gate.py::test_default_app_has_no_unacknowledged_finding") == DEFAULT_SYNTH_UNIT
    assert work_unit("tests/test_outside_scanners.py::test_cfn_lint_reports_no_errors") == DEFAULT_SYNTH_UNIT
    # The delivery (with or without the default app): the other shared unit, which builds both.
    assert work_unit("tests/test_deploy_workflow.py::test_x") == SHARED_UNIT
    assert work_unit("tests/test_evidence.py::test_x") == SHARED_UNIT  # synthesized and delivered
    assert work_unit("tests/test_delivery.py::test_x[param::with::colons]") == SHARED_UNIT
    # Every envs/ file's synth, shared by the environment-file tests and the three-AZ pages (issue 20).
    assert uses_session_synth("tests/test_environment_files.py")
    assert uses_session_synth("tests/test_evidence_pages.py")
    assert work_unit("tests/test_environment_files.py::test_environment_file_passes_the_gate[example.yaml]") == (
        SHARED_UNIT
    )


def test_other_modules_stay_units_of_their_own() -> None:
    # "synthesized" as a word in a docstring is not a use of the fixture.
    assert not uses_session_synth("tests/test_generated_environments.py")
    assert work_unit("tests/test_generated_environments.py::test_x[param]") == "tests/test_generated_environments.py"
    assert work_unit("tests/test_preflight.py::test_the_wrong_account_fails") == "tests/test_preflight.py"
    assert not uses_session_synth("tests/no_such_module.py")


def _queue(units: dict[str, list[str]], recorded: dict[str, float]) -> CostOrderedQueue:
    queue = CostOrderedQueue(recorded)
    for unit, nodeids in units.items():
        queue[unit] = dict.fromkeys(nodeids, False)
    return queue


def test_the_costliest_unit_is_handed_out_first_not_the_one_with_most_tests() -> None:
    """A one-test module that took a minute goes before a module of 200 quick tests (issue #23)."""
    units = {
        "tests/test_many.py": [f"tests/test_many.py::test_{i}" for i in range(200)],
        "tests/test_slow.py": ["tests/test_slow.py::test_the_slow_one"],
        "tests/test_quick.py": ["tests/test_quick.py::test_a", "tests/test_quick.py::test_b"],
    }
    recorded = {"tests/test_many.py": 4.0, "tests/test_slow.py": 60.0, "tests/test_quick.py": 0.1}
    queue = _queue(units, recorded)
    order = [queue.popitem(last=False)[0] for _ in range(3)]
    assert order == ["tests/test_slow.py", "tests/test_many.py", "tests/test_quick.py"]
    assert not queue


def test_a_units_cost_sums_its_scopes_and_never_falls_below_the_first_run_estimate() -> None:
    nodeids = ["tests/test_gate.py::test_a", "tests/test_network.py::test_b", "tests/test_network.py::TestX::test_c"]
    recorded = {"tests/test_gate.py": 400.0, "tests/test_network.py": 3.0}
    # Two recorded scopes, one class scope not recorded (one test).
    assert unit_cost(SHARED_UNIT, nodeids, recorded) == 403.0 + SECONDS_PER_TEST
    # Nothing of it recorded, or less than its first-run estimate (a partial run): the estimate.
    assert unit_cost(SHARED_UNIT, nodeids, {}) == FIRST_RUN_SECONDS[SHARED_UNIT]
    assert unit_cost(SHARED_UNIT, nodeids, {"tests/test_network.py": 3.0}) == FIRST_RUN_SECONDS[SHARED_UNIT]
    # No estimate: what was recorded, else so much a test.
    assert unit_cost("tests/test_new.py", ["tests/test_new.py::test_a"] * 4, {}) == 4 * SECONDS_PER_TEST
    assert unit_cost("tests/test_new.py", ["tests/test_new.py::test_a"], {"tests/test_new.py": 9.5}) == 9.5


def test_recorded_durations_merge_with_the_last_runs(tmp_path: Path) -> None:
    path = tmp_path / "scheduling" / "durations.json"
    assert read_durations(path) == {}
    record_durations({"tests/test_a.py": 1.234, "tests/test_b.py": 2.0}, path)
    record_durations({"tests/test_b.py": 5.0}, path)  # a partial run keeps test_a's figure
    assert read_durations(path) == {"tests/test_a.py": 1.23, "tests/test_b.py": 5.0}
    assert not list(path.parent.glob("*.tmp"))
    path.write_text("not json", encoding="utf-8")
    assert read_durations(path) == {}
    path.write_text(json.dumps({"tests/test_a.py": "slow", "tests/test_b.py": 1}), encoding="utf-8")
    assert read_durations(path) == {"tests/test_b.py": 1.0}


_UNIT = st.sampled_from([f"tests/test_{c}.py" for c in "abcdefgh"] + [SHARED_UNIT])


@given(
    units=st.dictionaries(_UNIT, st.integers(min_value=1, max_value=5), min_size=1),
    recorded=st.dictionaries(_UNIT, st.floats(min_value=0, max_value=600, allow_nan=False)),
)
def test_every_unit_is_handed_out_once_costliest_first(units: dict[str, int], recorded: dict[str, float]) -> None:
    """Only the order changes: each unit comes out once, with all its tests, by non-increasing cost."""
    nodeids = {unit: [f"{unit}::test_{i}" for i in range(n)] for unit, n in units.items()}
    queue = _queue(nodeids, recorded)
    out = [queue.popitem(last=False) for _ in range(len(units))]
    assert sorted(unit for unit, _ in out) == sorted(units)
    assert all(list(tests) == nodeids[unit] for unit, tests in out)
    costs = [unit_cost(unit, tests, recorded) for unit, tests in out]
    assert costs == sorted(costs, reverse=True)


def test_the_scheduler_hands_out_units_from_the_cost_ordered_queue() -> None:
    """`make pytest`'s scheduler (`-n 2` is `--tx 2*popen`) takes its units from the cost-ordered queue."""
    config = SimpleNamespace(getvalue=lambda name: ["2*popen"] if name == "tx" else None)
    scheduler = SessionSynthScheduling(config)
    assert scheduler.numnodes == 2
    assert isinstance(scheduler.workqueue, CostOrderedQueue)
