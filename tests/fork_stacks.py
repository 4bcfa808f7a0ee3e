"""What a fork adds without editing the project: its own stack, named by the `extra_stacks` context key.

`-c extra_stacks=tests.fork_stacks:add_signing` (or `"extra_stacks": "..."` in cdk.json) calls
`add_signing(scope, zone)` for every environment, in that environment's scope.
"""

from __future__ import annotations

from aws_cdk import RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from constructs import Construct

from pci_constructs.key_ring import only_grants_for_aws_resources
from stacks.landing_zone import LandingZone, stack_name


def add_signing(scope: Construct, zone: LandingZone) -> None:
    """A report-signing key whose material the fork imports (so AWS cannot rotate it: the one
    finding its environment file acknowledges) and a role that may sign with it."""
    config = zone.config
    stack = Stack(
        scope,
        stack_name(config, "Signing", config.home_region),
        env={"account": config.account, "region": config.home_region},
    )
    key = kms.Key(
        stack,
        "ReportSigning",
        key_spec=kms.KeySpec.ECC_NIST_P256,
        key_usage=kms.KeyUsage.SIGN_VERIFY,
        removal_policy=RemovalPolicy.RETAIN,
    )
    only_grants_for_aws_resources(key)  # PCI4-KMS-GRANTS-FOR-AWS-RESOURCES: nobody delegates it with a grant
    signer = iam.Role(stack, "Signer", assumed_by=iam.AccountPrincipal(config.account))
    key.grant(signer, "kms:Sign")
