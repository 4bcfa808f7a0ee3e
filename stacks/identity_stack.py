"""Identity and account baseline (PCI DSS 7, 8; 1.3, 1.4, 2.2 account guards).

- `IdentityStack` (`PciLz-<env>-Identity-<home region>`): what IAM and S3 hold once per account
  (global): the operator roles, the IAM password policy, S3 Block Public Access for the account.
- `AccountGuardsStack` (`PciLz-<env>-AccountGuards-<region>`, every region): the settings EC2, SSM
  and IAM Access Analyzer keep per region. A small stack of its own rather than a part of the Data
  or Detection stack: it exists whatever the detection flags say, it holds no data, and a failed
  account setting rolls back nothing else.

Both deploy after the region's Keys stack, which owns the permissions boundary and the logs key.

- `OrgGuardrailsStack` (`PciLz-<env>-OrgGuardrails-<home region>`), only when
  `guardrails.organization_unit_ids` is set: the service control policies, in the management
  account (`guardrails.management_account`, required, never the environment's own account).
"""

from __future__ import annotations

from aws_cdk import Annotations, Environment, Stack
from constructs import Construct

from config import EnvironmentConfig
from pci_constructs.account_guards import AccessAnalyzers, GlobalAccountGuards, RegionalAccountGuards
from pci_constructs.key_ring import KeyRing
from pci_constructs.operator_roles import CardDataScope, OperatorRoles, vault_function_patterns
from pci_constructs.org_guardrails import OrganizationGuardrails
from pci_constructs.permissions_boundary import guard_role_name
from stacks.audit_stack import log_archive_bucket_name
from stacks.base import LandingZoneStack
from stacks.keys_stack import key_alias


class IdentityStack(LandingZoneStack):
    """Home region: operator roles, password policy, account-wide S3 Block Public Access."""

    operators: OperatorRoles
    account_guards: GlobalAccountGuards

    def __init__(self, scope: Construct, construct_id: str, *, config: EnvironmentConfig, keys: KeyRing) -> None:
        super().__init__(
            scope,
            construct_id,
            config=config,
            region=config.home_region,
            description="PCI landing zone: operator roles, IAM password policy, account-level S3 Block Public Access",
        )
        identity = config.identity
        self.operators = OperatorRoles(
            self,
            "Operators",
            environment=config.name,
            administrator_principals=identity.administrator_principals,
            auditor_principals=identity.auditor_principals,
            break_glass_principals=identity.break_glass_principals,
            max_session_seconds=identity.session_duration_seconds,
            card_data=CardDataScope(
                cardholder_data_key_alias=key_alias(config, "cardholder-data"),
                cardholder_data_key_arns=(keys.cardholder_data.key_arn,),
                vault_function_patterns=vault_function_patterns(config.name),
                hmac_key_alias_pattern=key_alias(config, "card-vault-hmac-v*"),
                shred_epoch_key_alias_pattern=key_alias(config, "card-vault-shred-epoch-*"),
            ),
            log_archive_bucket_pattern=log_archive_bucket_name(config, "*"),
            logs_key_alias=key_alias(config, "logs"),
        )
        self.account_guards = GlobalAccountGuards(
            self,
            "AccountGuards",
            environment=config.name,
            min_length=identity.password_min_length,
            reuse_prevention=identity.password_reuse_prevention,
            max_age_days=identity.password_max_age_days,
            log_key=keys.logs,
            log_retention_days=config.log_retention_days,
        )


class AccountGuardsStack(LandingZoneStack):
    """One region's account-level guards and IAM Access Analyzer."""

    guards: RegionalAccountGuards
    analyzers: AccessAnalyzers | None

    def __init__(
        self, scope: Construct, construct_id: str, *, config: EnvironmentConfig, region: str, keys: KeyRing
    ) -> None:
        super().__init__(
            scope,
            construct_id,
            config=config,
            region=region,
            description="PCI landing zone: snapshot/AMI public-access blocks, IMDSv2, SSM sharing, Access Analyzer",
        )
        self.guards = RegionalAccountGuards(
            self,
            "AccountGuards",
            environment=config.name,
            log_key=keys.logs,
            log_retention_days=config.log_retention_days,
        )
        identity = config.identity
        unused = identity.unused_access_analyzer and region == config.home_region
        self.analyzers = None
        if identity.access_analyzer_mode == "create":
            self.analyzers = AccessAnalyzers(
                self,
                "AccessAnalyzer",
                environment=config.name,
                unused_access_age_days=identity.unused_access_age_days if unused else None,
            )
        else:
            Annotations.of(self).add_info(
                "identity.access_analyzer_mode is 'existing': this region relies on the account's own IAM Access"
                " Analyzer (one account analyzer per type and region); make sure it exists"
            )


class OrgGuardrailsStack(Stack):
    """The organization's service control policies; deploy it from the management account."""

    guardrails: OrganizationGuardrails

    def __init__(self, scope: Construct, construct_id: str, *, config: EnvironmentConfig) -> None:
        settings = config.guardrails
        super().__init__(
            scope,
            construct_id,
            env=Environment(account=settings.management_account or config.account, region=config.home_region),
            description="PCI landing zone: AWS Organizations service control policies (management account)",
            termination_protection=True,
        )
        self.guardrails = OrganizationGuardrails(
            self,
            "Guardrails",
            name_prefix=f"pci-lz-{config.name}",
            target_ids=settings.organization_unit_ids,
            allowed_regions=settings.allowed_regions or tuple(config.regions),
            exempt_principal_patterns=(
                *settings.exempt_role_patterns,
                f"arn:*:iam::*:role/{guard_role_name(config.name, '*')}",
            ),
        )
