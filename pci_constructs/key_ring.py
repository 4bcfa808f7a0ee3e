"""Customer-managed KMS keys, one per purpose, with separation of duties (PCI DSS 3.6, 3.7).

Who may do what with a key is written in its key policy:

- the account root keeps the default statement, so IAM policies (and CloudFormation) can
  manage the key and the key can never become unmanageable;
- key administrators (configured role ARNs) get the lifecycle operations they need and an
  explicit deny on every cryptographic operation, on creating grants and on rewriting the key
  policy: an administrator can neither decrypt nor give itself the means to (PCI DSS 3.6.1.2);
- key users reach the secrets, S3 and EBS keys only through the service the key exists for
  (`kms:ViaService`); AWS service principals keep the statements that name them;
- no principal, the account root included, creates a grant on a key except for an AWS service
  that uses the key for a resource (RDS, EBS, Secrets Manager...): `kms:CreateGrant` is denied
  unless `kms:GrantIsForAWSResource` is true, so a `kms:*` holder cannot delegate the key to an
  arbitrary principal ("kms:GrantIsForAWSResource", AWS KMS Developer Guide, condition keys).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from aws_cdk import Duration, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from constructs import Construct

from pci_constructs.encrypted_log_group import cloudwatch_logs_key_statement
from pci_constructs.retention import retain

# Lifecycle operations only. Deliberately absent: kms:CreateGrant (a grant could hand the
# administrator decrypt), kms:PutKeyPolicy (it could delete the deny below) and
# kms:DisableKeyRotation (annual rotation is a requirement, not an option).
KEY_ADMINISTRATOR_ACTIONS = (
    "kms:CancelKeyDeletion",
    "kms:CreateAlias",
    "kms:DeleteAlias",
    "kms:DescribeKey",
    "kms:DisableKey",
    "kms:EnableKey",
    "kms:EnableKeyRotation",
    "kms:GetKeyPolicy",
    "kms:GetKeyRotationStatus",
    "kms:ListAliases",
    "kms:ListGrants",
    "kms:ListKeyPolicies",
    "kms:ListKeyRotations",
    "kms:ListResourceTags",
    "kms:RevokeGrant",
    "kms:RotateKeyOnDemand",
    "kms:ScheduleKeyDeletion",
    "kms:TagResource",
    "kms:UntagResource",
    "kms:UpdateAlias",
    "kms:UpdateKeyDescription",
)

# Every operation that turns ciphertext into plaintext or produces key material.
CRYPTOGRAPHIC_ACTIONS = (
    "kms:Decrypt",
    "kms:Encrypt",
    "kms:GenerateDataKey*",
    "kms:ReEncrypt*",
)

# Every use of the cardholder-data key that yields plaintext, a data key or new ciphertext under it (AWS KMS API
# Reference): denied to all but the vault and RDS (`KeyRing._only_the_card_vault_and_rds`).
# CreateGrant too (security review r27, L1): a grant is a way to use the key that the other actions' deny would
# otherwise leave to any integrated service acting for a caller; RDS's own grant-making for the database arrives
# through RDS and stays exempt on the cardholder-data key, and the epoch keys need no grant.
CARDHOLDER_DATA_USE_ACTIONS = (*CRYPTOGRAPHIC_ACTIONS, "kms:GenerateDataKeyPair*", "kms:CreateGrant")

# Denied to key administrators: crypto, and the two ways around the deny.
DENIED_TO_KEY_ADMINISTRATORS = (
    *CRYPTOGRAPHIC_ACTIONS,
    "kms:GenerateDataKeyPair*",
    "kms:CreateGrant",
    "kms:PutKeyPolicy",
)


def purpose_key(scope: Construct, construct_id: str, *, alias: str, description: str) -> kms.Key:
    """A symmetric key with the landing zone's non-negotiable settings."""
    key = kms.Key(
        scope,
        construct_id,
        alias=alias,
        description=description,
        enable_key_rotation=True,
        rotation_period=Duration.days(365),
        pending_window=Duration.days(30),
    )
    retain(key)
    only_grants_for_aws_resources(key)
    return key


def only_grants_for_aws_resources(key: kms.Key) -> None:
    """Deny kms:CreateGrant to every principal unless an integrated AWS service asks for it on the
    caller's behalf ("kms:GrantIsForAWSResource", AWS KMS Developer Guide: the condition is true only
    when an AWS service integrated with KMS calls CreateGrant). The root statement keeps its purpose
    (IAM policies manage the key, the key never becomes unmanageable); only delegation is closed."""
    key.add_to_resource_policy(
        iam.PolicyStatement(
            sid="GrantsOnlyForAwsResources",
            effect=iam.Effect.DENY,
            principals=[iam.AnyPrincipal()],
            actions=["kms:CreateGrant"],
            resources=["*"],
            conditions={"Bool": {"kms:GrantIsForAWSResource": "false"}},
        )
    )


def separate_administrators(key: kms.Key, administrator_role_arns: Sequence[str]) -> None:
    """Key administrators manage the key's lifecycle and are explicitly denied its use (PCI DSS 3.6.1.2)."""
    if not administrator_role_arns:
        return
    administrators = [iam.ArnPrincipal(arn) for arn in administrator_role_arns]
    key.add_to_resource_policy(
        iam.PolicyStatement(
            sid="KeyAdministratorsManageTheKeyLifecycle",
            principals=administrators,
            actions=list(KEY_ADMINISTRATOR_ACTIONS),
            resources=["*"],
        )
    )
    key.add_to_resource_policy(
        iam.PolicyStatement(
            sid="KeyAdministratorsNeverUseTheKey",
            effect=iam.Effect.DENY,
            principals=administrators,
            actions=list(DENIED_TO_KEY_ADMINISTRATORS),
            resources=["*"],
        )
    )


def card_vault_role_path(alias_prefix: str) -> str:
    """`/<alias prefix, slashes as hyphens>-card-vault/` (`/pci-lz-<env>-card-vault/` for `pci-lz/<env>`): the IAM
    path of the card vault's function roles, the one exception of the cardholder-data key's use deny (`KeyRing`).

    A path, not a name pattern: CloudFormation generates role names from stack and logical IDs and may shorten
    them, while a path is the template's own (AWS::IAM::Role Path, CloudFormation Template Reference; "IAM
    identifiers", IAM User Guide: a role's ARN is `arn:<partition>:iam::<account>:role<path><name>`, and a path is
    `/`, or `/` + printable ASCII + `/`). Its first segment starts with `pci-lz-<env>-`, so the permissions
    boundary's fixed-name role pattern `role/pci-lz-<env>-*` already covers it: no bounded principal creates,
    passes or changes a role under it (`permissions_boundary.boundary_statements`, NoReserved and NoOwnRoles), and
    none changes a function that runs as one (NoCodeChange, by the tag `CardVault._protect_functions` sets).

    Raises ValueError for an empty prefix or one with characters an IAM path refuses.
    """
    segment = alias_prefix.strip("/").replace("/", "-")
    if not segment or not all("!" <= character <= "~" for character in segment):
        raise ValueError(f"alias_prefix {alias_prefix!r}: an IAM path takes printable ASCII only")
    return f"/{segment}-card-vault/"


def ec2_infrastructure_principal_arns(scope: Construct) -> tuple[str, str]:
    """The principal EC2 decrypts an encrypted volume's data key as when an instance mounts it: `aws:PrincipalArn`
    patterns for the role `aws:ec2-infrastructure` of this account and its per-instance sessions.

    AWS KMS Developer Guide, "Amazon EC2 example two" (CloudTrail): at volume creation EC2 calls
    GenerateDataKeyWithoutPlaintext and CreateGrant with grantee `<account>:aws:ec2-infrastructure:<instance>`;
    at mount the `Decrypt` caller is `arn:aws:sts::<account>:assumed-role/aws:ec2-infrastructure/<instance>`,
    an assumed role, not an AWS service principal, and the page does not say the call carries `kms:ViaService`.
    A Deny on "not through EC2 and not a service principal" could therefore refuse the mount of every
    instance's encrypted volume, so the block-storage key's deny exempts it. No principal of the account can
    take the name: an IAM role name cannot contain a colon (`RoleName` takes letters, digits and `+=,.@_-`
    only: "CreateRole", IAM API Reference), so the pattern names only AWS's own role. Both the role and the
    session form are listed because the global condition `aws:PrincipalArn` gives a role session's role ARN
    ("AWS global condition context keys").
    """
    stack = Stack.of(scope)
    return (
        f"arn:{stack.partition}:iam::{stack.account}:role/aws:ec2-infrastructure",
        f"arn:{stack.partition}:sts::{stack.account}:assumed-role/aws:ec2-infrastructure/*",
    )


def only_the_card_vault_uses(key: kms.Key, vault_role_path: str, *, sid: str, through_service: str | None) -> None:
    """No principal uses `key` but the card vault's roles (IAM path `vault_role_path`), requests through
    `through_service` (a `kms:ViaService` value; None for none) and AWS service principals, whatever an identity
    policy grants (PCI DSS v4.0.1 3.5.1, 3.6.1.2, 7.2.2). Used for the cardholder-data key (through RDS) and each
    shred-epoch key (no service).

    The account-root statement lets any IAM policy of the account grant the key ("Key policies in AWS KMS",
    AWS KMS Developer Guide), so PowerUserAccess would decrypt the vault's data keys; an explicit Deny in the
    key policy wins over any Allow ("Policy evaluation logic", IAM User Guide). The conditions of one
    statement are ANDed, so the deny applies only when all hold: `aws:PrincipalArn` (a role session's role
    ARN, path included: "AWS global condition context keys", IAM User Guide) is not under the vault's path;
    the request does not come through the service (`kms:ViaService`, "kms:ViaService", AWS KMS Developer Guide:
    for RDS `rds.<region>.amazonaws.com`, the database's storage, its snapshots and Performance Insights, whose
    KMS page "Changing an AWS KMS policy for Performance Insights" names it; `StringNotEquals` on an absent key
    holds, so a direct call is denied); and the caller is not an AWS service principal
    (`aws:PrincipalIsAWSService`, BoolIfExists: a service using a grant made to its service principal). The
    actions are `CARDHOLDER_DATA_USE_ACTIONS` (CreateGrant among them); administration (PutKeyPolicy,
    ScheduleKeyDeletion among it) is not denied, so the key cannot be locked out.
    """
    stack = Stack.of(key)
    conditions: dict[str, Any] = {
        "ArnNotLike": {"aws:PrincipalArn": f"arn:{stack.partition}:iam::{stack.account}:role{vault_role_path}*"},
        "BoolIfExists": {"aws:PrincipalIsAWSService": "false"},
    }
    if through_service is not None:
        conditions["StringNotEquals"] = {"kms:ViaService": through_service}
    key.add_to_resource_policy(
        iam.PolicyStatement(
            sid=sid,
            effect=iam.Effect.DENY,
            principals=[iam.AnyPrincipal()],
            actions=list(CARDHOLDER_DATA_USE_ACTIONS),
            resources=["*"],
            conditions=conditions,
        )
    )


class KeyRing(Construct):
    """The per-region keys, one per purpose, so a grant on one never opens another (PCI DSS 3.6.1, 3.7).

    - cardholder_data: the CDE database, its snapshots and Performance Insights, the vault's envelope encryption
    - logs: CloudWatch Logs groups (flow, database, WAF, trail logs) and CloudTrail files
    - secrets: Secrets Manager secrets; usable only through Secrets Manager
    - s3_data: S3 buckets that hold data (not the SSE-S3 access-log targets); usable only through S3
    - block_storage: the account's default EBS key; usable only through EC2
    - alerts: the security-alarm SNS topic
    """

    cardholder_data: kms.Key
    logs: kms.Key
    secrets: kms.Key
    s3_data: kms.Key
    block_storage: kms.Key
    alerts: kms.Key
    administrator_role_arns: tuple[str, ...]

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        alias_prefix: str,
        administrator_role_arns: Sequence[str] = (),
    ) -> None:
        super().__init__(scope, construct_id)
        if len(set(administrator_role_arns)) != len(administrator_role_arns):
            raise ValueError("administrator_role_arns: a role is listed more than once")
        self.administrator_role_arns = tuple(administrator_role_arns)

        def key(construct_id: str, purpose: str, description: str) -> kms.Key:
            return purpose_key(self, construct_id, alias=f"alias/{alias_prefix}/{purpose}", description=description)

        self.cardholder_data = key("CardholderDataKey", "cardholder-data", "Encrypts cardholder data (database, vault)")
        self.logs = key("LogsKey", "logs", "Encrypts CloudWatch Logs groups and CloudTrail log files")
        self.secrets = key("SecretsKey", "secrets", "Encrypts Secrets Manager secrets")
        self.s3_data = key("S3DataKey", "s3-data", "Encrypts S3 data buckets")
        self.block_storage = key("BlockStorageKey", "ebs", "Encrypts EBS volumes and snapshots (account default)")
        self.alerts = key("AlertsKey", "alerts", "Encrypts the security alerts SNS topic")
        self._allow_log_services()
        self._allow_alert_publishers()
        region = Stack.of(self).region
        self._only_through_service(self.secrets, f"secretsmanager.{region}.amazonaws.com", "SecretsManager")
        self._only_through_service(self.s3_data, f"s3.{region}.amazonaws.com", "S3")
        self._only_through_service(
            self.block_storage,
            f"ec2.{region}.amazonaws.com",
            "Ec2",
            exempt_principal_arns=ec2_infrastructure_principal_arns(self),
        )
        only_the_card_vault_uses(
            self.cardholder_data,
            card_vault_role_path(alias_prefix),
            sid="OnlyTheCardVaultAndRdsUseTheKey",
            through_service=f"rds.{region}.amazonaws.com",
        )
        self._allow_account_volumes_through_ec2(self.block_storage)
        for purpose_key_ in self.all_keys:
            self._separate_administrators(purpose_key_)

    @property
    def all_keys(self) -> tuple[kms.Key, ...]:
        return (self.cardholder_data, self.logs, self.secrets, self.s3_data, self.block_storage, self.alerts)

    def _separate_administrators(self, key: kms.Key) -> None:
        separate_administrators(key, self.administrator_role_arns)

    @staticmethod
    def _only_through_service(
        key: kms.Key, via_service: str, service_label: str, *, exempt_principal_arns: Sequence[str] = ()
    ) -> None:
        """No principal of the account uses the key directly, only through the service it serves.

        AWS service principals are exempt: they act under their own statements and conditions. So is each
        of `exempt_principal_arns` (ArnNotLike on `aws:PrincipalArn`): a principal AWS itself runs in the
        account whose calls are not documented to carry `kms:ViaService`.
        """
        conditions: dict[str, Any] = {
            "StringNotEquals": {"kms:ViaService": via_service},
            "Bool": {"aws:PrincipalIsAWSService": "false"},
        }
        if exempt_principal_arns:
            conditions["ArnNotLike"] = {"aws:PrincipalArn": list(exempt_principal_arns)}
        key.add_to_resource_policy(
            iam.PolicyStatement(
                sid=f"DenyUseOutside{service_label}",
                effect=iam.Effect.DENY,
                principals=[iam.AnyPrincipal()],
                actions=[*CRYPTOGRAPHIC_ACTIONS, "kms:CreateGrant"],
                resources=["*"],
                conditions=conditions,
            )
        )

    def _allow_account_volumes_through_ec2(self, key: kms.Key) -> None:
        """The account-default EBS key works like aws/ebs: any principal of this account, through EC2 only.

        Without it, Auto Scaling's service-linked role (which no IAM policy of ours can extend)
        could not launch instances once encryption by default names this key.
        """
        stack = Stack.of(self)
        via_ec2 = {"kms:CallerAccount": stack.account, "kms:ViaService": f"ec2.{stack.region}.amazonaws.com"}
        key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AllowVolumeEncryptionThroughEc2ForThisAccount",
                principals=[iam.AnyPrincipal()],
                actions=[*CRYPTOGRAPHIC_ACTIONS, "kms:DescribeKey"],
                resources=["*"],
                conditions={"StringEquals": via_ec2},
            )
        )
        key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AllowVolumeGrantsThroughEc2ForThisAccount",
                principals=[iam.AnyPrincipal()],
                actions=["kms:CreateGrant"],
                resources=["*"],
                conditions={"StringEquals": via_ec2, "Bool": {"kms:GrantIsForAWSResource": "true"}},
            )
        )

    def _allow_log_services(self) -> None:
        stack = Stack.of(self)
        account, partition = stack.account, stack.partition
        # CloudWatch Logs may use the key only for log groups of this account and region.
        self.logs.add_to_resource_policy(cloudwatch_logs_key_statement(self))
        # CloudTrail encrypts log files for trails of this account only ("Configure AWS KMS key policies
        # for CloudTrail": aws:SourceArn and aws:SourceAccount are both supported there).
        self.logs.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AllowCloudTrailToEncryptThisAccountsTrails",
                principals=[iam.ServicePrincipal("cloudtrail.amazonaws.com")],
                actions=["kms:GenerateDataKey*"],
                resources=["*"],
                conditions={
                    "StringLike": {
                        "kms:EncryptionContext:aws:cloudtrail:arn": f"arn:{partition}:cloudtrail:*:{account}:trail/*"
                    },
                    "StringEquals": {"aws:SourceAccount": account},
                },
            )
        )
        # With an S3 Bucket Key on the archive, CloudTrail must also decrypt to create or update a trail.
        self.logs.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AllowCloudTrailToDecryptForBucketKeys",
                principals=[iam.ServicePrincipal("cloudtrail.amazonaws.com")],
                actions=["kms:Decrypt"],
                resources=["*"],
                conditions={
                    "StringEquals": {"aws:SourceAccount": account},
                    "StringLike": {"aws:SourceArn": f"arn:{partition}:cloudtrail:*:{account}:trail/*"},
                },
            )
        )
        self.logs.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AllowCloudTrailToDescribeKey",
                principals=[iam.ServicePrincipal("cloudtrail.amazonaws.com")],
                actions=["kms:DescribeKey"],
                resources=["*"],
                conditions={"StringEquals": {"aws:SourceAccount": account}},
            )
        )

    def _allow_alert_publishers(self) -> None:
        account = Stack.of(self).account
        # Amazon SNS "Key management" (enable compatibility between event sources from AWS services
        # and encrypted topics): CloudWatch alarms may be confined to this account's alarms.
        self.alerts.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AllowThisAccountsAlarms",
                principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
                actions=["kms:Decrypt", "kms:GenerateDataKey*"],
                resources=["*"],
                conditions={"StringEquals": {"aws:SourceAccount": account}},
            )
        )
        # Same page: EventBridge delivery to an encrypted topic does not support aws:SourceAccount,
        # aws:SourceArn or aws:SourceOrgID in the key policy; with one, every delivery fails. The
        # topic policy (FindingAlerts) is what confines publishing to this account's finding rule.
        self.alerts.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AllowEventBridgeToEncryptedTopic",
                principals=[iam.ServicePrincipal("events.amazonaws.com")],
                actions=["kms:Decrypt", "kms:GenerateDataKey*"],
                resources=["*"],
            )
        )
