"""The benchmark's generated configurations are valid; its timings are figures, never asserted here."""

from __future__ import annotations

import ipaddress

import pytest

from benchmarks.run import delivery, environment
from config import parse_environment
from config.delivery_loader import parse_delivery


@pytest.mark.parametrize("regions", [1, 2, 4])
def test_benchmark_environment_is_valid_with_distinct_networks_and_regional_certificates(regions: int) -> None:
    config = parse_environment(environment(regions))
    assert len(config.regions) == regions
    assert next(iter(config.regions)) == config.home_region
    networks = [ipaddress.IPv4Network(r.vpc_cidr) for r in config.regions.values()]
    assert all(not a.overlaps(b) for i, a in enumerate(networks) for b in networks[i + 1 :])
    assert all(f":acm:{name}:" in r.certificate_arn for name, r in config.regions.items())


def test_two_region_benchmark_is_the_default_environment_shape() -> None:
    default = parse_environment(environment(2))
    assert set(default.regions) == {"us-east-1", "us-west-2"}


@pytest.mark.parametrize("environments", [1, 4, 16])
def test_benchmark_delivery_is_valid_one_account_per_environment(environments: int) -> None:
    """Only the configuration is checked here; `make bench` synthesizes it (16 environments take minutes)."""
    config = parse_delivery(delivery(environments))
    assert len(config.environments) == environments
    assert len({e.config.account for e in config.environments}) == environments
    assert all(len(e.config.regions) == 2 for e in config.environments)
    assert config.environments[-1].kind == "production"


def test_phase_clock_takes_a_nested_phase_out_of_its_parent_and_counts_wrapped_calls() -> None:
    """benchmarks/phases.py's bookkeeping (its figures are printed by `make bench`, never asserted)."""
    from benchmarks.phases import Clock

    class Visitor:
        def visit(self, node: int) -> int:
            return node + 1

    clock = Clock()
    clock.wrap(Visitor, "visit", "aspects", children=False)
    with clock.phase("synth"):
        assert [Visitor().visit(n) for n in range(3)] == [1, 2, 3]
    assert clock.phases["aspects"]["calls"] == 3
    assert clock.phases["synth"]["calls"] == 1
    total = clock.phases["synth"]["wall_s"] + clock.phases["aspects"]["wall_s"]
    assert clock.phases["aspects"]["wall_s"] <= total
    assert clock.phases["synth"]["wall_s"] >= 0.0
    assert clock.phases["synth"]["child_cpu_s"] >= 0.0


def test_the_readme_speed_table_is_generated_from_the_recorded_bench() -> None:
    """README's speed table is `python -m benchmarks.run --record`'s, from benchmarks/bench.json (issue #23)."""
    import json

    from benchmarks.run import README, RECORD, readme_table

    recorded = json.loads(RECORD.read_text(encoding="utf-8"))
    table = readme_table(recorded)
    assert table in README.read_text(encoding="utf-8"), "run: python -m benchmarks.run --record"
    for row in ("CDK synth + cdk-nag", "paired runs", "each extra region", "`make pytest` after set-up"):
        assert row in table, row
