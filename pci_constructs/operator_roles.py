"""Operator roles: platform administrator, security auditor / assessor, break-glass (PCI DSS 7.2, 8.2, 8.4, 8.6).

Trust (IAM User Guide, "AWS global condition context keys" and "IAM and AWS STS condition
context keys"): every statement names the principal's account and pins the exact principal with
`aws:PrincipalArn`, so no other identity of that account can assume the role, and the trust
survives a principal being re-created (an ARN principal would be rewritten to a unique ID).

- IAM users and roles (`sts:AssumeRole`): the request carries `aws:MultiFactorAuthPresent` when
  the caller's session was MFA-authenticated, so the trust requires it (`Bool`: an absent key
  does not match, so a call without MFA is refused) and an MFA no older than the session length.
- IAM Identity Center permission-set roles and SAML federation: their sessions are created by
  `AssumeRoleWithSAML` and never carry `aws:MultiFactorAuthPresent`; MFA is enforced by the
  identity provider (Identity Center's MFA setting, or the SAML IdP). The trust names the
  permission set's role-ARN pattern (`AWSReservedSSO_<PermissionSet>_*`), or, for a SAML provider,
  requires the sign-in audience `SAML:aud`.

Every role's sessions last at most `max_session_seconds` (<= 1 h). The boundary of
`permissions_boundary.py` applies to all three (added by the App's Aspect).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from aws_cdk import Duration, Stack
from aws_cdk import aws_iam as iam
from constructs import Construct

from config.models import MAX_OPERATOR_SESSION_SECONDS, identity_center_trust_patterns, principal_kind
from pci_constructs.permissions_boundary import operator_role_name

# The tag every card-vault shred-epoch key carries (pci_constructs.card_vault.SHRED_EPOCH_TAG, which a test
# holds equal to this one; not imported, so the operator roles do not load the vault's construct module).
SHRED_EPOCH_TAG = "pci-lz:shred-epoch"

SAML_SIGN_IN_AUDIENCE = "https://signin.aws.amazon.com/saml"
# Actions that turn protected data into plaintext or give the means to (PCI DSS 3.5, 7.2.1).
KEY_USE_ACTIONS = ("kms:CreateGrant", "kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey*", "kms:ReEncrypt*")
# Computing or checking the card vault's keyed hash (PCI DSS 3.5.1.1): a holder could test guesses of a PAN.
MAC_ACTIONS = ("kms:GenerateMac", "kms:VerifyMac")
# Invoking or rewriting the card vault's functions (detokenization among them).
VAULT_FUNCTION_ACTIONS = (
    "lambda:AddPermission",
    "lambda:CreateFunctionUrlConfig",
    "lambda:InvokeFunction",
    "lambda:InvokeFunctionUrl",
    "lambda:UpdateFunctionCode",
    "lambda:UpdateFunctionConfiguration",
)


@dataclass(frozen=True)
class CardDataScope:
    """What the operator roles must never read: the cardholder-data key, the vault's functions, the CDE database.

    `cardholder_data_key_alias`: matched with `kms:ResourceAliases`, so the deny holds for the key of
    every region; `cardholder_data_key_arns`: the keys known in this stack's region (denied by ARN too,
    in case the alias is ever removed); `vault_function_patterns`: function names the deny covers;
    `hmac_key_alias_pattern`: the card vault's keyed-hash keys' aliases (`alias/pci-lz/<env>/card-vault-hmac-v*`),
    denied kms:GenerateMac and kms:VerifyMac by `kms:ResourceAliases` (a condition of every KMS key operation,
    "AWS KMS permissions", AWS KMS Developer Guide): the hash key's policy denies them too;
    `shred_epoch_key_alias_pattern`: the card vault's shred-epoch keys' aliases
    (`alias/pci-lz/<env>/card-vault-shred-epoch-*`), denied the key-use actions and kms:PutKeyPolicy by
    `kms:ResourceAliases` ("Use aliases to control access to KMS keys", AWS KMS Developer Guide) and, by
    the `pci-lz:shred-epoch` tag every epoch key carries, `aws:ResourceTag/<key>` ("Use tags to control
    access to KMS keys", AWS KMS Developer Guide), also kms:UntagResource (red team r19c M2, issue 19).
    """

    cardholder_data_key_alias: str
    cardholder_data_key_arns: tuple[str, ...]
    vault_function_patterns: tuple[str, ...]
    hmac_key_alias_pattern: str | None = None
    shred_epoch_key_alias_pattern: str | None = None


def vault_function_patterns(environment: str) -> tuple[str, ...]:
    """The card vault (`PciLz-<env>-Workload-<region>`) and any function named for detokenization.

    CloudFormation names a function `<stack name>-<logical ID>-<suffix>`, so every function of the
    workload stacks starts with `PciLz-<env>-Workload-`; an explicitly named vault function is
    expected as `pci-lz-<env>-vault-*`; and anything named `*detokeni*` / `*Detokeni*` is covered
    wherever it lives.
    """
    return (
        f"PciLz-{environment}-Workload-*",
        f"pci-lz-{environment}-vault-*",
        "*detokeni*",
        "*Detokeni*",
    )


def card_data_denies(scope: CardDataScope, *, partition: str, account: str) -> list[iam.PolicyStatement]:
    """Explicit denies an operator role carries whatever else it is granted (PCI DSS 3.5.1, 7.2.1, 7.2.2)."""
    statements = [
        iam.PolicyStatement(
            sid="DenyCardholderDataKeyByAlias",
            effect=iam.Effect.DENY,
            actions=list(KEY_USE_ACTIONS),
            resources=["*"],
            conditions={"ForAnyValue:StringEquals": {"kms:ResourceAliases": [scope.cardholder_data_key_alias]}},
        ),
        iam.PolicyStatement(
            sid="DenyVaultFunctions",
            effect=iam.Effect.DENY,
            actions=list(VAULT_FUNCTION_ACTIONS),
            resources=[
                f"arn:{partition}:lambda:*:{account}:function:{pattern}" for pattern in scope.vault_function_patterns
            ],
        ),
        # The CDE database holds card data: no IAM database token and no master secret for operators.
        iam.PolicyStatement(
            sid="DenyCdeDatabaseCredentials",
            effect=iam.Effect.DENY,
            actions=["rds-db:connect", "secretsmanager:GetSecretValue"],
            resources=["*"],
        ),
    ]
    if scope.hmac_key_alias_pattern:
        statements.insert(
            1,
            iam.PolicyStatement(
                sid="DenyCardVaultHmacKeysByAlias",
                effect=iam.Effect.DENY,
                actions=list(MAC_ACTIONS),
                resources=["*"],
                conditions={"ForAnyValue:StringLike": {"kms:ResourceAliases": [scope.hmac_key_alias_pattern]}},
            ),
        )
    if scope.shred_epoch_key_alias_pattern:
        # The epoch keys wrap data keys as the cardholder-data key does (their policies keep the account-root
        # statement, which lets IAM policies such as PowerUserAccess grant them): denied by alias and by tag.
        # StringLike "*" on the tag holds whenever the key carries it, whatever the epoch number.
        statements[1:1] = [
            iam.PolicyStatement(
                sid="DenyShredEpochKeysByAlias",
                effect=iam.Effect.DENY,
                actions=[*KEY_USE_ACTIONS, "kms:PutKeyPolicy"],
                resources=["*"],
                conditions={"ForAnyValue:StringLike": {"kms:ResourceAliases": [scope.shred_epoch_key_alias_pattern]}},
            ),
            iam.PolicyStatement(
                sid="DenyShredEpochKeysByTag",
                effect=iam.Effect.DENY,
                actions=[*KEY_USE_ACTIONS, "kms:PutKeyPolicy", "kms:UntagResource"],
                resources=["*"],
                conditions={"StringLike": {f"aws:ResourceTag/{SHRED_EPOCH_TAG}": "*"}},
            ),
        ]
    if scope.cardholder_data_key_arns:
        statements.insert(
            1,
            iam.PolicyStatement(
                sid="DenyCardholderDataKeyByArn",
                effect=iam.Effect.DENY,
                actions=[*KEY_USE_ACTIONS, "kms:PutKeyPolicy"],
                resources=list(scope.cardholder_data_key_arns),
            ),
        )
    return statements


def _trust_principal(principal: str, max_session_seconds: int) -> iam.IPrincipal:
    """One principal of a trust policy, with the conditions its assume-role path carries."""
    account = principal.split(":")[4]
    kind = principal_kind(principal)
    if kind == "saml":
        return iam.FederatedPrincipal(
            principal,
            conditions={"StringEquals": {"SAML:aud": SAML_SIGN_IN_AUDIENCE}},
            assume_role_action="sts:AssumeRoleWithSAML",
        )
    if kind == "identity_center":
        # Both role paths IAM Identity Center uses (with and without the instance's region segment).
        patterns = list(identity_center_trust_patterns(principal))
        return iam.AccountPrincipal(account).with_conditions({"ArnLike": {"aws:PrincipalArn": patterns}})
    return iam.AccountPrincipal(account).with_conditions(
        {
            "ArnEquals": {"aws:PrincipalArn": principal},
            "Bool": {"aws:MultiFactorAuthPresent": "true"},
            "NumericLessThanEquals": {"aws:MultiFactorAuthAge": str(max_session_seconds)},
        }
    )


class OperatorRole(Construct):
    """One operator role, assumable only by `principals`, sessions <= `max_session_seconds`."""

    role: iam.Role

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        role_name: str,
        description: str,
        principals: Sequence[str],
        max_session_seconds: int,
        managed_policy_names: Sequence[str],
        statements: Sequence[iam.PolicyStatement],
    ) -> None:
        super().__init__(scope, construct_id)
        if not principals:
            raise ValueError("principals: an operator role needs at least one trusted principal")
        if not 900 <= max_session_seconds <= MAX_OPERATOR_SESSION_SECONDS:
            raise ValueError(
                f"max_session_seconds: {max_session_seconds} is outside 900..{MAX_OPERATOR_SESSION_SECONDS}"
            )
        self.role = iam.Role(
            self,
            "Role",
            role_name=role_name,
            description=description,
            assumed_by=iam.CompositePrincipal(*(_trust_principal(p, max_session_seconds) for p in principals)),
            max_session_duration=Duration.seconds(max_session_seconds),
            managed_policies=[iam.ManagedPolicy.from_aws_managed_policy_name(name) for name in managed_policy_names],
        )
        if statements:
            iam.ManagedPolicy(
                self,
                "Policy",
                description=f"{description}: scoped grants and explicit denies",
                roles=[self.role],
                statements=list(statements),
            )


class OperatorRoles(Construct):
    """The three operator roles; a role whose principal list is empty is not created (attribute None).

    - platform administrator: AWS `PowerUserAccess` (everything but IAM, Organizations and account
      settings) plus `IAMReadOnlyAccess`; IAM changes go through the CloudFormation deployment.
      Explicit denies on the cardholder-data key, the vault's functions and the CDE database.
    - security auditor / assessor: AWS `SecurityAudit` (configuration metadata) plus reading the
      trail, CloudWatch Logs and the log archive; the same explicit card-data denies.
    - break-glass: AWS `AdministratorAccess` within the permissions boundary; every use alarms
      (see `break_glass_event` in security_alarms.py).
    """

    administrator: iam.Role | None
    auditor: iam.Role | None
    break_glass: iam.Role | None

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        environment: str,
        administrator_principals: Sequence[str],
        auditor_principals: Sequence[str],
        break_glass_principals: Sequence[str],
        max_session_seconds: int,
        card_data: CardDataScope,
        log_archive_bucket_pattern: str,
        logs_key_alias: str,
    ) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        denies = card_data_denies(card_data, partition=stack.partition, account=stack.account)

        def role(
            construct_id: str,
            name: str,
            description: str,
            principals: Sequence[str],
            managed: Sequence[str],
            statements: Sequence[iam.PolicyStatement],
        ) -> iam.Role | None:
            if not principals:
                return None
            return OperatorRole(
                self,
                construct_id,
                role_name=operator_role_name(environment, name),
                description=description,
                principals=principals,
                max_session_seconds=max_session_seconds,
                managed_policy_names=managed,
                statements=statements,
            ).role

        self.administrator = role(
            "PlatformAdministrator",
            "platform-admin",
            "PCI landing zone platform administrator (no cardholder-data access)",
            administrator_principals,
            ("PowerUserAccess", "IAMReadOnlyAccess"),
            denies,
        )
        self.auditor = role(
            "SecurityAuditor",
            "security-auditor",
            "PCI landing zone security auditor / QSA (read-only configuration and logs)",
            auditor_principals,
            ("SecurityAudit",),
            [*self._log_reading(stack, log_archive_bucket_pattern, logs_key_alias), *denies],
        )
        self.break_glass = role(
            "BreakGlass",
            "break-glass",
            "PCI landing zone break-glass administrator (every use alarms)",
            break_glass_principals,
            ("AdministratorAccess",),
            (),
        )

    @staticmethod
    def _log_reading(stack: Stack, bucket_pattern: str, logs_key_alias: str) -> list[iam.PolicyStatement]:
        """What an assessor reads beyond SecurityAudit: log events, trail events, archived log files."""
        bucket = f"arn:{stack.partition}:s3:::{bucket_pattern}"
        return [
            iam.PolicyStatement(
                sid="ReadLogEvents",
                actions=[
                    "cloudtrail:LookupEvents",
                    "logs:FilterLogEvents",
                    "logs:GetLogEvents",
                    "logs:GetQueryResults",
                    "logs:StartQuery",
                    "logs:StopQuery",
                ],
                resources=["*"],
            ),
            iam.PolicyStatement(
                sid="ReadLogArchive",
                actions=["s3:GetObject", "s3:GetObjectVersion", "s3:ListBucket", "s3:ListBucketVersions"],
                resources=[bucket, f"{bucket}/*"],
            ),
            # Archived trail files are SSE-KMS with the logs key: decrypt only through S3, only that key.
            iam.PolicyStatement(
                sid="DecryptArchivedLogsThroughS3",
                actions=["kms:Decrypt"],
                resources=["*"],
                conditions={
                    "StringLike": {"kms:ViaService": "s3.*.amazonaws.com"},
                    "ForAnyValue:StringEquals": {"kms:ResourceAliases": [logs_key_alias]},
                },
            ),
        ]
