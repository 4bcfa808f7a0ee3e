"""The PCI DSS v4.0.1 rule set: importing this package registers every rule."""

from pci_rules.rule import REGISTRY, Rule
from pci_rules.rules import (  # noqa: F401  (registration by import, in this order)
    build,
    detection,
    elb,
    firewall,
    functions,
    iam,
    kms,
    logs,
    network,
    posture,
    rds,
    s3,
    secrets,
    stateful,
    trail,
    waf,
)

RULES: tuple[Rule, ...] = tuple(REGISTRY)

__all__ = ["RULES"]
