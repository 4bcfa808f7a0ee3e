"""What a fork adds without editing the project: its own stack, named by the `extra_stacks` context key.

`-c extra_stacks=tests.fork_stacks:add_signing` (or `"extra_stacks": "..."` in cdk.json) calls
`add_signing(scope, zone)` for every environment, in that environment's scope. So what the stack
cannot fix it justifies itself, with the fork's own governance (`justify`): an acknowledgment in one
environment file would leave every other environment's gate red (issue #18, fork trial finding 1).
`add_signing_acknowledged_in_env_file` is the same stack without its justification, for a fork with
a single environment that acknowledges it in that file instead.
"""

from __future__ import annotations

from datetime import date

from aws_cdk import RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from constructs import Construct

from pci_constructs.justification import justify
from pci_constructs.key_ring import only_grants_for_aws_resources
from stacks.landing_zone import LandingZone, stack_name

# The fork's governance of what its stack justifies (PCI DSS v4.0.1 12.3.1): its own risk owner,
# never the project's maintainers; the gate refuses a passed review date or one over 12 months ahead.
INLINE_RULES = ("PCI.DSS.321-IAMNoInlinePolicy", "NIST.800.53.R5-IAMNoInlinePolicy")
INLINE_REASON = (
    "The signer's one statement (kms:Sign on the report-signing key) is CDK's grant, kept inline"
    " on the only role that uses it"
)


class SigningStack(Stack):
    """A report-signing key (asymmetric, so AWS cannot rotate it) and a role that may sign with it.

    `justified=True`: the stack justifies its one finding itself (`justify`, with the fork's
    governance), so it passes the gate in every environment it is built in."""

    def __init__(self, scope: Construct, zone: LandingZone, *, justified: bool) -> None:
        config = zone.config
        super().__init__(
            scope,
            stack_name(config, "Signing", config.home_region),
            env={"account": config.account, "region": config.home_region},
        )
        key = kms.Key(
            self,
            "ReportSigning",
            key_spec=kms.KeySpec.ECC_NIST_P256,
            key_usage=kms.KeyUsage.SIGN_VERIFY,
            removal_policy=RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE,
        )
        only_grants_for_aws_resources(key)  # PCI4-KMS-GRANTS-FOR-AWS-RESOURCES: nobody delegates it with a grant
        self.signer = iam.Role(self, "Signer", assumed_by=iam.AccountPrincipal(config.account))
        key.grant(self.signer, "kms:Sign")
        if not justified:
            return
        for rule in INLINE_RULES:
            justify(
                self,
                self.signer.node.find_child("DefaultPolicy"),
                rule=rule,
                reason=INLINE_REASON,
                requirement="PCI DSS v4.0.1 7.2.2",
                risk_owner="acme-reporting",
                approver="acme-ciso",
                ticket="RISK-12",
                review_by=date(2027, 11, 1),
            )


def add_signing(scope: Construct, zone: LandingZone) -> None:
    """The signing stack, self-justified: what a fork names in cdk.json for every environment (the
    default app and every envs/ file, none of which acknowledges its finding)."""
    SigningStack(scope, zone, justified=True)


def add_signing_acknowledged_in_env_file(scope: Construct, zone: LandingZone) -> None:
    """The same stack, unjustified: its one environment file acknowledges the finding."""
    SigningStack(scope, zone, justified=False)
