"""Per-region customer-managed keys; every other regional stack reads from it."""

from __future__ import annotations

from constructs import Construct

from config import EnvironmentConfig
from pci_constructs.key_ring import KeyRing
from pci_constructs.permissions_boundary import PermissionsBoundary
from stacks.base import LandingZoneStack


class KeysStack(LandingZoneStack):
    keys: KeyRing
    boundary: PermissionsBoundary

    def __init__(self, scope: Construct, construct_id: str, *, config: EnvironmentConfig, region: str) -> None:
        super().__init__(
            scope, construct_id, config=config, region=region, description="PCI landing zone: customer-managed KMS keys"
        )
        self.keys = KeyRing(
            self,
            "Keys",
            alias_prefix=key_alias_prefix(config),
            administrator_role_arns=config.key_administrator_role_arns,
        )
        # Pin every key's ARN as an export. Which stacks import a key depends on configuration
        # (Config on or off, ...); without the pin, switching a consumer off makes this stack try
        # to drop an export that the consumer, updated later, still imports, and the deploy fails.
        self.pin_exports(*(key.key_arn for key in self.keys.all_keys))
        # The first stack of every region: every other stack deploys after it, so the region's
        # permissions boundary exists before any role names it (pci_constructs/permissions_boundary.py).
        self.boundary = PermissionsBoundary(
            self, "PermissionsBoundary", environment=config.name, regions=tuple(config.regions)
        )


def key_alias_prefix(config: EnvironmentConfig) -> str:
    """`pci-lz/<env>`: every key alias of the environment is `alias/pci-lz/<env>/<purpose>`."""
    return f"pci-lz/{config.name}"


def key_alias(config: EnvironmentConfig, purpose: str) -> str:
    """The alias KeyRing gives each purpose key (`alias/pci-lz/<env>/<purpose>`)."""
    return f"alias/{key_alias_prefix(config)}/{purpose}"
