"""Reusable PCI DSS constructs: one capability per module, secure by default.

Named `pci_constructs` (not `constructs`) so it cannot shadow the `constructs`
library that aws-cdk-lib imports.
"""
