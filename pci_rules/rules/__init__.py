"""The PCI DSS v4.0.1 rule set: importing this package registers every rule."""

from pci_rules.rule import REGISTRY, Rule
from pci_rules.rules import kms, logs  # noqa: F401  (registration by import)

RULES: tuple[Rule, ...] = tuple(REGISTRY)

__all__ = ["RULES"]
