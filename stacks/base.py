"""Shared behaviour of every landing-zone stack."""

from __future__ import annotations

from aws_cdk import Environment, Stack
from constructs import Construct

from config import EnvironmentConfig


class LandingZoneStack(Stack):
    """A stack pinned to the configured account and region, with AZs from configuration.

    Overriding `availability_zones` keeps synth free of AZ context lookups, which
    would otherwise need AWS credentials for an explicit-environment stack.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: EnvironmentConfig,
        region: str,
        description: str,
    ) -> None:
        self._availability_zones = config.availability_zones(region)
        super().__init__(
            scope,
            construct_id,
            env=Environment(account=config.account, region=region),
            # The construct ID, explicitly: inside a pipeline Stage the default name would take
            # the stage's prefix and a move from `cdk deploy` to the pipeline would replace stacks.
            stack_name=construct_id,
            description=description,
            termination_protection=True,
        )
        self.config = config

    def pin_exports(self, *values: str) -> None:
        """Export each value whether or not a consumer imports it today.

        Which stacks import a value depends on configuration (the proxy, detective controls, a
        second region). Without the pin, switching a consumer off makes this stack drop an export
        that the deployed consumer still imports, and CloudFormation refuses the update. The export
        names are the ones CDK gives the automatic exports, so pinning never renames one.
        """
        for value in values:
            self.export_value(value)

    @property
    def availability_zones(self) -> list[str]:
        return list(self._availability_zones)
