"""The PCI DSS v4.0.1 rule set: importing this package registers every rule."""

from pci_rules.rule import REGISTRY, Rule
from pci_rules.rules import (  # noqa: F401  (registration by import, in this order)
    boundary,
    build,
    card_data,
    data_stores,
    detection,
    edge_compute,
    egress,
    elb,
    firewall,
    functions,
    iam,
    kms,
    kms_grants,
    logs,
    network,
    pack_review,
    posture,
    rds,
    s3,
    secrets,
    stateful,
    templates,
    trail,
    waf,
    workloads,
)

RULES: tuple[Rule, ...] = tuple(REGISTRY)

__all__ = ["RULES"]
