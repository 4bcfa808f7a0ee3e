from tests.conftest import Synthesized


def test_default_app_passes_the_gate(synthesized: Synthesized) -> None:
    assert synthesized.report.passed, "\n".join(map(str, synthesized.report.findings))
