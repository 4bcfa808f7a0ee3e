"""Thin stacks: they compose pci_constructs and wire references one way."""
