"""Builds every stack of one environment; app.py and the tests share it."""

from __future__ import annotations

from dataclasses import dataclass, field

from aws_cdk import App, Tags

from config import EnvironmentConfig
from stacks.data_stack import DataStack
from stacks.edge_stack import EdgeStack
from stacks.keys_stack import KeysStack
from stacks.network_stack import NetworkStack


@dataclass
class RegionalStacks:
    keys: KeysStack
    network: NetworkStack
    data: DataStack
    edge: EdgeStack


@dataclass
class LandingZone:
    config: EnvironmentConfig
    regions: dict[str, RegionalStacks] = field(default_factory=dict)


def stack_name(config: EnvironmentConfig, part: str, region: str | None = None) -> str:
    return "-".join(p for p in ("PciLz", config.name, part, region) if p)


def build_landing_zone(app: App, config: EnvironmentConfig) -> LandingZone:
    """Regional stacks per configured region; references flow keys -> network -> data -> edge."""
    zone = LandingZone(config=config)
    for region in config.regions:
        keys = KeysStack(app, stack_name(config, "Keys", region), config=config, region=region)
        network = NetworkStack(
            app,
            stack_name(config, "Network", region),
            config=config,
            region=region,
            log_key=keys.keys.logs,
        )
        data = DataStack(
            app,
            stack_name(config, "Data", region),
            config=config,
            region=region,
            keys=keys.keys,
            network=network.network,
        )
        edge = EdgeStack(
            app,
            stack_name(config, "Edge", region),
            config=config,
            region=region,
            keys=keys.keys,
            network=network.network,
            access_logs_bucket=data.access_logs.bucket,
        )
        zone.regions[region] = RegionalStacks(keys=keys, network=network, data=data, edge=edge)
    Tags.of(app).add("project", "pci-dss-landing-zone")
    Tags.of(app).add("environment", config.name)
    return zone
