"""The benchmark's generated configurations are valid; its timings are figures, never asserted here."""

from __future__ import annotations

import ipaddress

import pytest

from benchmarks.run import environment
from config import parse_environment


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
