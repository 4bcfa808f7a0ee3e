"""The xdist scheduling of tests/scheduling.py: the session synths' users share one work unit (issue #23)."""

from __future__ import annotations

from tests.scheduling import SHARED_UNIT, uses_session_synth, work_unit


def test_modules_that_use_a_session_synth_share_one_unit() -> None:
    assert uses_session_synth("tests/test_gate.py")  # synthesized
    assert uses_session_synth("tests/test_deploy_workflow.py")  # delivered only
    assert work_unit("tests/test_gate.py::test_default_app_has_no_unacknowledged_finding") == SHARED_UNIT
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
