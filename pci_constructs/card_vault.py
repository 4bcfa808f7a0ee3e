"""The card-vault workload: tokenize, detokenize, purge and migrate functions (PCI DSS v4.0.1 3.2-3.7, 7.2, 8.3, 10.2).

- `Api`: the ALB's target for `/v1/*` (target group + listener rule on the given HTTPS listener,
  which verifies client certificates); tokenizes with data keys of the cardholder-data key.
- `Detokenize`: no URL, no ALB target; invokable by the configured caller roles only (resource policy).
- `Purge`: an EventBridge rule runs it daily; deletes cards past expiry plus the grace period.
- `Migrate`: a CDK trigger (`aws_cdk.triggers`) that applies the yoyo migrations at deploy and
  creates one database role per function, each logging in by IAM token through the RDS proxy.
- `Keys`: key maintenance (re-hash under the current HMAC key version, re-wrap data keys under the
  cardholder-data key, reseal and shred with shred epochs); no URL, no target, no resource policy; with
  `shred_epochs` an EventBridge rule runs `{"job": "rotate"}` daily (reseal, then shred).
- `shred_epoch_keys`: with `shred_epochs`, one retained KMS key per epoch (issue 19 finding 8): the current
  one wraps every new data key; only the Keys job's role may schedule an older one's deletion.
- `hmac_keys`: one KMS HMAC_256 key per configured version (duplicate detection by `GenerateMac`;
  the key material never leaves KMS, so no vault role holds it beside the hashes it reads).

Every function: Python (`RUNTIME`), application subnets, its own KMS-encrypted log group kept
>= the configured days, X-Ray tracing, environment encrypted with the vault's own KMS key, and a
role whose permissions are written out here (no AWS managed policies, no wildcard actions).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import jsii
from aws_cdk import (
    Acknowledgment,
    ArnFormat,
    Aspects,
    CfnResource,
    Duration,
    Fn,
    IAspect,
    Stack,
    Tags,
    Token,
    Validations,
    triggers,
)
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as events_targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_rds as rds
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_sns as sns
from constructs import Construct, IConstruct

from pci_constructs.alert_topic import notify
from pci_constructs.encrypted_log_group import EncryptedLogGroup
from pci_constructs.justification import justify
from pci_constructs.key_ring import (
    card_vault_role_path,
    only_grants_for_aws_resources,
    only_the_card_vault_uses,
    purpose_key,
    separate_administrators,
)
from pci_constructs.lambda_bundling import python_asset, record_sbom_source
from pci_constructs.managed_prefix_list import ManagedPrefixListLookup, s3_prefix_list_name
from pci_constructs.permissions_boundary import CODE_PROTECTED_TAG_VALUE, PROTECTED_TAG_KEY, PROTECTED_TAG_VALUE
from pci_constructs.provider_logging import harden_provider
from pci_constructs.retention import retain
from pci_constructs.vpc_function import NETWORK_INTERFACE_ACTIONS
from pci_constructs.vpc_function import RUNTIME as RUNTIME  # re-exported: every Python function runs one runtime

LAMBDA_ROOT = Path(__file__).resolve().parent.parent / "lambda"
PACKAGE = LAMBDA_ROOT / "card_vault"
HTTPS = 443
# The database roles the migration creates (lambda/card_vault/migrate.py APP_ROLES), one per function.
APP_USER = "card_vault_app"
DETOKENIZE_USER = "card_vault_detokenize"
PURGE_USER = "card_vault_purge"
KEYS_USER = "card_vault_keys"
DATABASE_USERS = (APP_USER, DETOKENIZE_USER, PURGE_USER, KEYS_USER)
# The keyed hash: HMAC-SHA-256 inside KMS (lambda/card_vault/keyed_hash.py MAC_ALGORITHM).
MAC_ALGORITHM = "HMAC_SHA_256"
DEFAULT_DECRYPT_CACHE_MAX_AGE_SECONDS = 300
# What the vault passes as KMS encryption context for its data keys (lambda/card_vault/envelope.py).
DATA_KEY_CONTEXT = {"kms:EncryptionContext:purpose": "card-vault-data-key"}
API_PATH_PATTERN = "/v1/*"
# The API's unauthenticated health route (lambda/card_vault/api.py HEALTH_PATH): the target group checks it.
HEALTH_CHECK_PATH = "/v1/health"
# POST /v1/cards/batch: up to 100 cards, a body the function accepts up to 144 KiB (lambda/card_vault/api.py
# MAX_BATCH_BODY_BYTES, the schema's maximal 100-card body is 134,411 bytes); the web ACL in front lets
# bodies that large through on this path only, by their Content-Length.
BATCH_PATH = "/v1/cards/batch"
# The vault's URI prefix (API_PATH_PATTERN without its wildcard) and the request headers the web ACL inspects
# for a card number besides the URI path and query (pci_constructs/web_acl.py CardNumberBlock): none. Headers
# reach the WAF log only, whose log group masks card numbers (its data protection policy), not the ALB's
# access log; and the pattern has no Luhn check, so it would refuse about 2.2% of random UUID Idempotency-Keys
# (digit groups joined by '-': measured over 200,000 uuid4 strings), a common client practice. The API
# refuses a Luhn-valid Idempotency-Key itself (lambda/card_vault/api.py).
API_PATH_PREFIX = "/v1/"
CLIENT_HEADERS: tuple[str, ...] = ()
BATCH_MAX_BODY_BYTES = 147_456
# The API's known-card metrics (lambda/card_vault/api.py): EMF, dimensions client_id and service.
METRIC_NAMESPACE = "PciLz/CardVault"
KNOWN_CARD_METRIC = "KnownCardAnswers"
NEW_CARD_METRIC = "NewCardAnswers"
SIBLING_METRIC = "SiblingCards"
# Every card tokenized, all clients together (dimension `service` only; pci_constructs/mac_volume_alarm.py).
TOKENIZED_METRIC = "CardsTokenized"
SERVICE_NAME = "card-vault"
# The client-CRL check's EMF metric (lambda/card_vault/crl_check.py DAYS_METRIC: days to nextUpdate, dimension
# `service`) and its alarms' window: 25 hourly periods always hold one daily run.
CRL_DAYS_METRIC = "ClientCrlDaysToNextUpdate"
# The Keys job's count of cards its re-seal could not open (lambda/card_vault/keys.py UNREADABLE_METRIC, dimension
# `service`): a planted or tampered row, which keeps its shred epoch in use until it is disposed of (red team r19d).
RESEAL_UNREADABLE_METRIC = "ResealUnreadable"
# The Keys job's count of unreadable cards it disposed of (lambda/card_vault/keys.py DISPOSED_METRIC, migration 0036).
UNREADABLE_DISPOSED_METRIC = "UnreadableDisposed"
# The Keys job's count of data keys its `verify` found wrapped by another KMS key than the one recorded beside them
# (keys.py QUARANTINED_METRIC; migration 0032, red team r19d finding 2).
DATA_KEY_QUARANTINED_METRIC = "DataKeyQuarantined"
CRL_ALARM_HOURS = 25
# Tokenize requests the database refused because it closed every reservation after a reset of its unlogged counts
# (lambda/card_vault/api.py GUARD_CLOSED_METRIC, dimension `service`; migrations 0033, 0034, red team r19d).
GUARD_CLOSED_METRIC = "SiblingGuardClosed"
GUARD_CLOSED_PERIOD = Duration.minutes(5)
# "CreateTargetGroup" (ELB API Reference): at most 32 alphanumerics and hyphens, no hyphen first or
# last, not starting with "internal-"; unique per account and region.
_TARGET_GROUP_NAME = re.compile(r"^(?!internal-)[A-Za-z0-9](?:[A-Za-z0-9-]{0,30}[A-Za-z0-9])?$")
# The CDK provider behind every `aws_cdk.triggers` trigger of a stack (one per stack).
TRIGGER_PROVIDER = "AWSCDK.TriggerCustomResourceProviderCustomResourceProvider"
# The trigger's provider invokes the migration synchronously and waits `Timeout` for the answer (by
# default the function's own timeout, no headroom for a cold start in the VPC); its own Lambda runs at
# most 15 minutes. The migration gets 4 minutes, the wait 12: a run that times out reports its own
# timeout error instead of failing the deploy with the provider's.
MIGRATION_TIMEOUT = Duration.minutes(4)
TRIGGER_WAIT = Duration.minutes(12)
# The API's and the detokenize function's timeout: the longest a request begun on the previous code can
# still run once its function is updated, which the post-deploy migrations wait out.
REQUEST_TIMEOUT = Duration.seconds(10)
# The migration function's alias the post-deploy trigger invokes (lambda/card_vault/migrate.py POST_ALIAS).
POST_ALIAS = "post"


@dataclass(frozen=True)
class ReservedConcurrency:
    """Reserved concurrent executions per function; None reserves none (the function draws on the
    region's unreserved pool, and the database connections stay bounded by the RDS proxy's limit)."""

    api: int | None = 20
    detokenize: int | None = 5
    purge: int | None = 1
    migration: int | None = 1  # one migration at a time (yoyo also locks)
    keys: int | None = None  # operator-run, rarely, by hand: reserves none unless asked


# Findings a function without reserved concurrency raises, and why the construct accepts them then.
_UNRESERVED_REASON = (
    "the deployment reserves no concurrency for this card-vault function because the account's Lambda"
    " concurrency quota cannot hold the reservation beside the unreserved pool Lambda keeps; its database"
    " connections stay bounded by the RDS proxy's connection limit and its callers by the ALB or IAM"
)
_KEYS_UNRESERVED_REASON = (
    "the card vault's key-maintenance function is run by an operator, by hand and rarely (a key rotation);"
    " each run handles a bounded batch of rows, and its database connections stay bounded by the RDS"
    " proxy's connection limit"
)
_CRL_UNRESERVED_REASON = (
    "the card vault's client-CRL check runs once a day (an EventBridge schedule, two retries) and reads one S3"
    " object; it holds no database connection and no card data, so a reservation would only take executions"
    " out of the region's unreserved pool"
)
_UNRESERVED_FINDINGS = ("NIST.800.53.R5::NIST.800.53.R5-LambdaConcurrency",)
# The requirement the gate's report names beside each reason (as the registry's entries do).
_UNRESERVED_REQUIREMENT = "PCI DSS v4.0.1 2.2.1"
_UNRESERVED_CHECKOV = "CKV_AWS_115"


@dataclass(frozen=True)
class KnownCardAlarm:
    """When the share of "already stored" tokenize answers of a client alarms (issue 19 finding 2)."""

    min_answers: int = 100
    period_minutes: int = 15


@dataclass(frozen=True)
class CardSearchGuard:
    """The middle-digit search bound (red-team r19 F1): sibling cards (same first six and last four) per
    client, pair and window before the API refuses the pair, and when a client's sibling count alarms."""

    max_siblings: int = 10
    window_minutes: int = 60
    sibling_alarm_count: int = 5


@dataclass(frozen=True)
class DetokenizeLimits:
    """Each detokenize caller's budget (cards per minute, every instance sharing it) and the count of its
    detokenizations per alarm period that alarms."""

    per_minute: int = 30
    alarm_count: int = 200


@dataclass(frozen=True)
class ShredEpochs:
    """Crypto-shredding (issue 19 finding 8): the shred epochs held (the highest current) and the timing of
    the daily Keys run (lambda/card_vault/keys.py `rotate`). `backup_retention_days` is the database's: the
    longest any WAL, snapshot or PITR copy of a deleted card lives."""

    epochs: tuple[int, ...] = (1,)
    epoch_days: int = 90
    deletion_window_days: int = 30
    schedule_hour_utc: int = 4
    backup_retention_days: int = 7

    @property
    def current(self) -> int:
        return max(self.epochs)


# The tag every shred-epoch key carries (set by CloudFormation): what the key is, for review and alarms.
SHRED_EPOCH_TAG = "pci-lz:shred-epoch"


@dataclass(frozen=True)
class ClientCrlCheck:
    """The client CRL the trust store holds (`card_vault.client_crl`), checked daily between deploys (issue 19
    finding 9): the object version `bucket`/`key`/`version`, in a bucket of the vault's region (the S3 gateway
    endpoint serves its own region's buckets only); alarms at `warn_days` days to its nextUpdate or fewer, and
    at 0 (passed). `schedule_hour_utc`: the hour of the daily run (minute 47). `kms_key_arn`: the bucket's
    SSE-KMS key, None for SSE-S3 or none."""

    bucket: str
    key: str
    version: str
    warn_days: int = 14
    schedule_hour_utc: int = 5
    kms_key_arn: str | None = None


_ALIAS_CHARACTERS = re.compile(r"[^A-Za-z0-9_-]")


def detokenize_alias_name(role_arn: str) -> str:
    """The alias a caller role invokes: `caller-` and the role's name (path dropped, other characters `-`),
    at most 128 characters ("CreateAlias", Lambda API Reference: Name `(?!^[0-9]+$)([a-zA-Z0-9-_]+)`, 1-128)."""
    return ("caller-" + _ALIAS_CHARACTERS.sub("-", role_arn.rsplit("/", 1)[-1]))[:128]


@dataclass(frozen=True)
class VaultDatabase:
    """Where the vault's data lives: the proxy (functions) and the instance (migration trigger)."""

    proxy: rds.IDatabaseProxy | None  # None: the functions connect to the instance by IAM
    instance_endpoint: str
    instance_resource_id: str
    port: int
    database_name: str
    master_secret: secretsmanager.ISecret
    database_security_group: ec2.ISecurityGroup
    # Egress to the proxy (or the instance without it) on the database port only; every function that
    # logs in by IAM carries it beside its own group (EncryptedDatabase.function_client_security_group).
    client_security_group: ec2.ISecurityGroup


# Template metadata on each vault function: the card-data elements it receives, sends and stores, and the
# mechanisms by which it renders PAN unreadable (the rule pack's PCI4-CARD-DATA-FIELD-ENCRYPTION examines
# those against the function's grants; the evidence's hop and store tables read the elements).
CARD_DATA_METADATA = "pci-lz:card-data"
_PAN_CIPHERTEXT = "PAN as AES-256-GCM ciphertext (field-level envelope encryption)"
_NAME_CIPHERTEXT = "cardholder name as AES-256-GCM ciphertext"
_PAN_HASH = "PAN keyed hash (HMAC-SHA-256 in KMS)"
_TRUNCATED = "first six / last four"
_STORED = (_PAN_CIPHERTEXT, _NAME_CIPHERTEXT, _PAN_HASH, _TRUNCATED, "expiry date", "token")


@dataclass(frozen=True)
class _CardData:
    """What one function handles, as its code does (lambda/card_vault/): `receives` from its caller, `sends`
    back to it, `stores` in and `reads` from the vault database; `mechanisms`: `envelope-encryption`, `keyed-hash`."""

    receives: tuple[str, ...]
    sends: tuple[str, ...]
    stores: tuple[str, ...]
    mechanisms: tuple[str, ...] = ()
    reads: tuple[str, ...] = ()  # from the vault database

    def metadata(self) -> dict[str, list[str]]:
        return {
            "receives": list(self.receives),
            "sends": list(self.sends),
            "stores": list(self.stores),
            "reads": list(self.reads),
            "mechanisms": list(self.mechanisms),
        }


@dataclass(frozen=True)
class _FunctionSpec:
    handler: str
    requirements: str  # lambda/<requirements>/requirements.txt
    description: str
    environment: dict[str, str]
    security_groups: list[ec2.ISecurityGroup]
    timeout: Duration
    statements: list[iam.PolicyStatement]
    card_data: _CardData


@jsii.implements(IAspect)
class _RunsLast:
    """Makes `last` wait for every other CloudFormation resource of the stack it is added to."""

    def __init__(self, last: CfnResource) -> None:
        self._last = last

    def visit(self, node: IConstruct) -> None:
        if (
            isinstance(node, CfnResource)
            and node is not self._last
            and node.cfn_resource_type != "AWS::CDK::Metadata"
            and Stack.of(node) is Stack.of(self._last)
        ):
            self._last.node.add_dependency(node)


def _service_sum(metric_name: str, period: Duration) -> cloudwatch.Metric:
    """The sum over `period` of one of the vault's EMF metrics that carry the `service` dimension only."""
    return cloudwatch.Metric(
        namespace=METRIC_NAMESPACE,
        metric_name=metric_name,
        dimensions_map={"service": SERVICE_NAME},
        statistic=cloudwatch.Stats.SUM,
        period=period,
    )


class CardVault(Construct):
    """The four functions, their roles, keys, logs, schedule and ALB wiring.

    Each function has its own security group whose egress is what it calls: the API, detokenize and
    key-maintenance functions the VPC endpoints' group on 443 (KMS), the purge nothing beyond the
    database; with `database.client_security_group` the proxy (or instance) on the database port.
    The migration trigger reaches the instance directly and the Secrets Manager endpoint.

    Raises ValueError for a listener rule priority outside 1-50000, no detokenize caller, a target
    group name AWS would refuse, HMAC key versions that are not one or two distinct numbers 1-1000,
    or a decrypt cache age outside 1-3600 s.
    """

    environment_key: kms.Key
    hmac_keys: dict[int, kms.Key]
    current_hmac_key: kms.Key
    api: lambda_.Function
    detokenize: lambda_.Function
    purge: lambda_.Function
    keys: lambda_.Function
    migrate: triggers.TriggerFunction
    migrate_post: triggers.Trigger
    log_groups: dict[str, EncryptedLogGroup]
    trigger_provider_logs: EncryptedLogGroup
    target_group: elbv2.ApplicationTargetGroup
    listener_rule: elbv2.ApplicationListenerRule
    purge_rule: events.Rule
    shred_rule: events.Rule | None
    shred_epoch_keys: dict[int, kms.Key]
    migration_security_group: ec2.SecurityGroup
    known_card_alarms: dict[str, cloudwatch.Alarm]
    new_card_alarms: dict[str, cloudwatch.Alarm]
    sibling_alarms: dict[str, cloudwatch.Alarm]
    detokenize_aliases: dict[str, lambda_.Alias]
    detokenize_alarms: dict[str, cloudwatch.Alarm]
    security_groups: dict[str, ec2.SecurityGroup]
    alb_permission: lambda_.CfnPermission
    crl_check: lambda_.Function | None
    crl_check_rule: events.Rule | None
    crl_alarms: dict[str, cloudwatch.Alarm]
    keys_alarms: dict[str, cloudwatch.Alarm]
    guard_closed_alarm: cloudwatch.Alarm
    s3_prefix_list: ManagedPrefixListLookup | None

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        alias_prefix: str,
        key_administrator_role_arns: tuple[str, ...],
        vpc: ec2.IVpc,
        subnets: ec2.SubnetSelection,
        endpoint_security_group: ec2.ISecurityGroup,
        database: VaultDatabase,
        cardholder_data_key: kms.IKey,
        secrets_key: kms.IKey,
        log_key: kms.IKey,
        log_retention_days: int,
        listener: elbv2.IApplicationListener,
        listener_rule_priority: int,
        target_group_name: str,
        clients: tuple[VaultClient, ...],
        alarm_topic: sns.ITopic,
        known_card_alarm: KnownCardAlarm | None = None,
        card_search: CardSearchGuard | None = None,
        detokenize_limits: DetokenizeLimits | None = None,
        detokenize_caller_role_arns: tuple[str, ...],
        purge_grace_days: int,
        purge_schedule_hour_utc: int,
        reserved_concurrency: ReservedConcurrency | None = None,
        hmac_key_versions: tuple[int, ...] = (1,),
        decrypt_cache_max_age_seconds: int = DEFAULT_DECRYPT_CACHE_MAX_AGE_SECONDS,
        alarm_name_prefix: str | None = None,
        shred_epochs: ShredEpochs | None = None,
        client_crl: ClientCrlCheck | None = None,
    ) -> None:
        """`alarm_name_prefix`: each alarm is named `<prefix><its construct ID>` (the landing zone passes the
        prefix its permissions boundary protects, `pci-lz-<env>-vault-`); None leaves the names generated.
        `client_crl`: deploy the daily client-CRL check (`_crl_check`) and its alarms; None deploys neither."""
        super().__init__(scope, construct_id)
        self._alias_prefix = alias_prefix
        if not detokenize_caller_role_arns:
            raise ValueError("detokenize_caller_role_arns: name at least one role")
        if not 1 <= len(hmac_key_versions) <= 2 or len(set(hmac_key_versions)) != len(hmac_key_versions):
            raise ValueError(f"hmac_key_versions={hmac_key_versions}: one version, or two during a rotation")
        if not all(1 <= v <= 1000 for v in hmac_key_versions):
            raise ValueError(f"hmac_key_versions={hmac_key_versions}: each version must be 1-1000")
        search = card_search or CardSearchGuard()
        detokenize_limits = detokenize_limits or DetokenizeLimits()
        if not 1 <= detokenize_limits.per_minute <= 100_000 or detokenize_limits.alarm_count < 1:
            raise ValueError(f"detokenize_limits={detokenize_limits}: per_minute 1-100000, alarm_count at least 1")
        if not 1 <= search.max_siblings <= 100_000:
            raise ValueError(f"card_search.max_siblings={search.max_siblings}: must be 1-100000")
        if not 5 <= search.window_minutes <= 1440:
            raise ValueError(f"card_search.window_minutes={search.window_minutes}: must be 5-1440")
        if search.sibling_alarm_count < 1:
            raise ValueError(f"card_search.sibling_alarm_count={search.sibling_alarm_count}: must be at least 1")
        if not 1 <= decrypt_cache_max_age_seconds <= 3600:
            raise ValueError(f"decrypt_cache_max_age_seconds={decrypt_cache_max_age_seconds}: must be 1-3600")
        if shred_epochs is not None:
            _check_shred_epochs(shred_epochs)
        if not 1 <= listener_rule_priority <= 50000:
            raise ValueError(f"listener_rule_priority={listener_rule_priority}: must be 1-50000")
        if not _TARGET_GROUP_NAME.match(target_group_name):
            raise ValueError(
                f"target_group_name={target_group_name!r}: 1-32 letters, digits and hyphens, no hyphen first"
                " or last, not starting with 'internal-'"
            )
        self._vpc = vpc
        self._subnets = subnets
        self._log_key = log_key
        self._log_retention_days = log_retention_days
        self._secrets_key = secrets_key
        self.log_groups = {}
        self.security_groups = {}
        reserved = reserved_concurrency or ReservedConcurrency()

        self.environment_key = purpose_key(
            self,
            "EnvironmentKey",
            alias=f"alias/{alias_prefix}/card-vault-environment",
            description="Encrypts the card-vault functions' environment variables",
        )
        separate_administrators(self.environment_key, key_administrator_role_arns)
        self.hmac_keys = {
            version: _hmac_key(
                self, version, alias_prefix=alias_prefix, administrator_role_arns=key_administrator_role_arns
            )
            for version in sorted(hmac_key_versions)
        }
        self.current_hmac_key = self.hmac_keys[max(hmac_key_versions)]
        # One retained KMS key per shred epoch: the current one wraps every new data key, older ones are read
        # until the Keys job has drained them and scheduled their deletion.
        self.shred_epoch_keys = {
            epoch: _shred_epoch_key(
                self, epoch, alias_prefix=alias_prefix, administrator_role_arns=key_administrator_role_arns
            )
            for epoch in sorted(shred_epochs.epochs if shred_epochs else ())
        }
        data_key_wrapper: kms.IKey = (
            self.shred_epoch_keys[shred_epochs.current] if shred_epochs is not None else cardholder_data_key
        )
        # Every key a stored data key may name: the cardholder-data key (epoch 0, and every data key before
        # epochs) and each epoch held.
        data_key_readers: list[kms.IKey] = [cardholder_data_key, *self.shred_epoch_keys.values()]
        hmac_keys_setting = json.dumps(
            [{"version": v, "key_id": key.key_arn} for v, key in sorted(self.hmac_keys.items(), reverse=True)]
        )

        common = {
            "VAULT_KMS_KEY_ID": cardholder_data_key.key_arn,
            "VAULT_HMAC_KEYS": hmac_keys_setting,
            "VAULT_DECRYPT_CACHE_MAX_AGE_SECONDS": str(decrypt_cache_max_age_seconds),
            "VAULT_DB_HOST": database.proxy.endpoint if database.proxy else database.instance_endpoint,
            "VAULT_DB_TLS_CA": "proxy" if database.proxy else "rds",
            "VAULT_DB_PORT": str(database.port),
            "VAULT_DB_NAME": database.database_name,
            "POWERTOOLS_SERVICE_NAME": SERVICE_NAME,
        }
        if shred_epochs is not None:
            common["VAULT_SHRED"] = json.dumps(
                {
                    "epochs": [{"epoch": e, "key_id": key.key_arn} for e, key in self.shred_epoch_keys.items()],
                    "epoch_days": shred_epochs.epoch_days,
                    "backup_retention_days": shred_epochs.backup_retention_days,
                    "deletion_window_days": shred_epochs.deletion_window_days,
                    # The boundary denies the Keys role kms:ScheduleKeyDeletion (see `_shred_statements`).
                    "schedule_deletion": False,
                }
            )
        self.api = self._function(
            "Api",
            _FunctionSpec(
                handler="card_vault.api.handler",
                requirements="api",
                description="Card vault API behind the ALB: tokenize, masked lookup, disposal",
                environment={
                    **common,
                    "VAULT_DB_USER": APP_USER,
                    # The listener's mutual TLS is in verify mode: the load balancer forwards the leaf, and
                    # the API refuses certificate headers that do not describe it (card_vault/mtls.py).
                    "VAULT_MTLS_MODE": "verify",
                    "VAULT_CLIENTS": json.dumps(
                        [
                            {
                                "id": c.client_id,
                                "subject": c.subject,
                                "issuer": c.issuer,
                                "rights": list(c.rights),
                                "tokenize_per_minute": c.tokenize_per_minute,
                            }
                            for c in clients
                        ]
                    ),
                },
                security_groups=[
                    self._security_group("Api", endpoint_security_group, "KMS"),
                    database.client_security_group,
                ],
                timeout=REQUEST_TIMEOUT,
                statements=[
                    # New data keys: under the current shred epoch's key, or the cardholder-data key without epochs.
                    _data_key_statement(data_key_wrapper, "kms:GenerateDataKey"),
                    # Every held version: tokenize finds a card stored under the previous one mid-rotation.
                    _mac_statement(list(self.hmac_keys.values())),
                    _connect_statement(self, database, APP_USER),
                ],
                # Tokenize and update: the PAN, expiry and name in the body; the masked view back
                # (lambda/card_vault/models.py CardView: token, brand, first six, last four, expiry).
                card_data=_CardData(
                    receives=("PAN", "expiry date", "cardholder name"),
                    sends=("token", "first six / last four", "expiry date"),
                    stores=_STORED,
                    mechanisms=("envelope-encryption", "keyed-hash"),
                    reads=(_PAN_HASH, _TRUNCATED, "expiry date", "token"),
                ),
            ),
            concurrency=reserved.api,
        )
        self.detokenize = self._function(
            "Detokenize",
            _FunctionSpec(
                handler="card_vault.detokenize.handler",
                requirements="detokenize",
                description="Card vault detokenization: returns a card number to an authorized role, with a reason",
                environment={
                    **common,
                    "VAULT_DB_USER": DETOKENIZE_USER,
                    "VAULT_DETOKENIZE_PER_MINUTE": str(detokenize_limits.per_minute),
                    # The aliases of _allow_detokenize_callers: any other qualifier, or none, is refused.
                    "VAULT_DETOKENIZE_CALLERS": json.dumps(
                        [detokenize_alias_name(arn) for arn in detokenize_caller_role_arns]
                    ),
                },
                security_groups=[
                    self._security_group("Detokenize", endpoint_security_group, "KMS"),
                    database.client_security_group,
                ],
                timeout=REQUEST_TIMEOUT,
                statements=[
                    # Each data key decrypts with the KMS key recorded beside it: any epoch held, or epoch 0.
                    _data_key_statement(data_key_readers, "kms:Decrypt"),
                    _connect_statement(self, database, DETOKENIZE_USER),
                ],
                # Reads the ciphertext and decrypts it for an authorized caller; writes only its audit row.
                card_data=_CardData(
                    receives=("token",),
                    sends=("token", "PAN"),  # lambda/card_vault/detokenize.py: {"token", "pan"}
                    stores=(),
                    mechanisms=("envelope-encryption",),
                    reads=(_PAN_CIPHERTEXT,),
                ),
            ),
            concurrency=reserved.detokenize,
        )
        self.purge = self._function(
            "Purge",
            _FunctionSpec(
                handler="card_vault.purge.handler",
                requirements="purge",
                description="Card vault purge: deletes cards past expiry plus the grace period",
                environment={**common, "VAULT_DB_USER": PURGE_USER, "VAULT_PURGE_GRACE_DAYS": str(purge_grace_days)},
                # IAM tokens are signed in the function: the database is all the purge reaches.
                security_groups=[self._security_group("Purge", None, ""), database.client_security_group],
                timeout=Duration.minutes(5),
                statements=[_connect_statement(self, database, PURGE_USER)],
                # Deletes expired rows by their expiry date; no card data in or out.
                card_data=_CardData(receives=(), sends=(), stores=(), reads=("expiry date",)),
            ),
            concurrency=reserved.purge,
        )
        self.keys = self._function(
            "Keys",
            _FunctionSpec(
                handler="card_vault.keys.handler",
                requirements="detokenize",  # the same dependencies: decrypt, hash, database
                description="Card vault key maintenance (operator-run): re-hash under the current HMAC key, re-wrap",
                environment={**common, "VAULT_DB_USER": KEYS_USER},
                security_groups=[
                    self._security_group("Keys", endpoint_security_group, "KMS"),
                    database.client_security_group,
                ],
                timeout=Duration.minutes(15),
                statements=[
                    # Re-hash and reseal: decrypt the number (data keys of any held epoch, the vault's context),
                    # hash it under the current version; reseal seals it under a new data key of the current epoch.
                    _data_key_statement(data_key_readers, "kms:Decrypt"),
                    *([_data_key_statement(data_key_wrapper, "kms:GenerateDataKey")] if shred_epochs else []),
                    *self._shred_statements(shred_epochs),
                    _mac_statement([self.current_hmac_key]),
                    # Re-wrap ("ReEncrypt", AWS KMS API Reference: kms:ReEncryptFrom on the source key,
                    # kms:ReEncryptTo on the destination; here both are the cardholder-data key, whose
                    # newest key material re-encrypts) and DescribeKey to resolve the configured key's ARN.
                    _data_key_statement(cardholder_data_key, "kms:ReEncryptFrom"),
                    _data_key_statement(cardholder_data_key, "kms:ReEncryptTo"),
                    iam.PolicyStatement(actions=["kms:DescribeKey"], resources=[cardholder_data_key.key_arn]),
                    _connect_statement(self, database, KEYS_USER),
                ],
                # Re-hash and re-wrap in place: decrypts each PAN, stores its new hash and re-wrapped data key.
                card_data=_CardData(
                    receives=(),
                    sends=(),
                    stores=(_PAN_HASH, "re-wrapped data keys"),
                    mechanisms=("envelope-encryption", "keyed-hash"),
                    reads=(_PAN_CIPHERTEXT, "wrapped data keys"),
                ),
            ),
            concurrency=reserved.keys,
            unreserved_reason=_KEYS_UNRESERVED_REASON,
        )
        _only_vault_roles_mac(self.hmac_keys.values(), (self.api.role, self.keys.role))
        _only_the_keys_job_shreds(self.shred_epoch_keys.values(), self.keys.role, key_administrator_role_arns)
        self.migration_security_group = self._migration_security_group(database, endpoint_security_group)
        self.migrate = self._migration_trigger(
            database,
            reserved.migration,
            search,
            (shred_epochs.current if shred_epochs is not None else 0, data_key_wrapper),
            reserved.api,
            clients,
        )

        self.detokenize_aliases = self._allow_detokenize_callers(detokenize_caller_role_arns)
        self.target_group, self.listener_rule = self._alb_route(listener, listener_rule_priority, target_group_name)
        # The migration needs its database ingress rule first; the ALB routes to the API only once the
        # schema and roles exist.
        self.migrate.execute_after(self.migration_security_group)
        self.migrate.execute_before(self.listener_rule)
        answers_alarm = known_card_alarm or KnownCardAlarm()
        self.known_card_alarms = {c.client_id: self._known_card_alarm(c, answers_alarm, alarm_topic) for c in clients}
        self.new_card_alarms = {
            c.client_id: self._volume_alarm(
                c,
                NEW_CARD_METRIC,
                c.new_card_alarm_count,
                answers_alarm.period_minutes,
                alarm_topic,
                "new cards tokenized: a bulk load, or a search of card numbers through tokenize",
            )
            for c in clients
        }
        self.detokenize_alarms = {
            name: self._detokenize_alarm(
                name, alias, detokenize_limits.alarm_count, answers_alarm.period_minutes, alarm_topic
            )
            for name, alias in self.detokenize_aliases.items()
        }
        self.sibling_alarms = {
            c.client_id: self._volume_alarm(
                c,
                SIBLING_METRIC,
                search.sibling_alarm_count,
                answers_alarm.period_minutes,
                alarm_topic,
                "new cards sharing first six and last four with another card of the client: a search of a"
                " stored card's middle digits",
            )
            for c in clients
        }
        self.crl_check, self.crl_check_rule, self.crl_alarms, self.s3_prefix_list = None, None, {}, None
        if client_crl is not None:
            self._crl_check(client_crl, endpoint_security_group, alarm_topic)
        self.keys_alarms = self._keys_alarms(alarm_topic)
        self.guard_closed_alarm = self._guard_closed_alarm(alarm_topic)
        if alarm_name_prefix is not None:
            self._name_alarms(alarm_name_prefix)
        # On an update, a function's new code runs only once the schema it expects is there (each migration
        # also keeps the previous code working: new columns get a default until the next release).
        self.migrate.execute_before(self.api, self.detokenize, self.purge, self.keys)
        self._protect_functions()
        self.purge_rule = events.Rule(
            self,
            "PurgeSchedule",
            description="Daily purge of expired cards (PCI DSS 3.2.1)",
            schedule=events.Schedule.cron(minute="17", hour=str(purge_schedule_hour_utc)),
            # "Using resource-based policies for Amazon EventBridge": the target adds a Lambda
            # permission for events.amazonaws.com limited to this rule's ARN.
            targets=[
                events_targets.LambdaFunction(
                    self.purge, event=events.RuleTargetInput.from_object({}), retry_attempts=2
                )
            ],
        )
        self.shred_rule = self._shred_schedule(shred_epochs)
        self.migrate_post = self._post_migration_trigger()

    def _shred_statements(self, shred: ShredEpochs | None) -> list[iam.PolicyStatement]:
        """The Keys job's shred rights: DescribeKey on every epoch key (its state and ARN), nothing more.

        No kms:ScheduleKeyDeletion: the permissions boundary every landing-zone role carries denies it on every
        key (pci_constructs/permissions_boundary.py KEY_TAMPERING_ACTIONS), and an exception for these keys
        took the delivery's multi-region boundaries past IAM's 6,144 characters when tried. The
        job answers `due` for a drained epoch (`VAULT_SHRED` `schedule_deletion: false`) and a key
        administrator, whose federated role carries no boundary, schedules the deletion; the job then records
        it (`pending_deletion`)."""
        if shred is None:
            return []
        return [
            iam.PolicyStatement(
                actions=["kms:DescribeKey"], resources=[key.key_arn for key in self.shred_epoch_keys.values()]
            )
        ]

    def _shred_schedule(self, shred: ShredEpochs | None) -> events.Rule | None:
        """The daily reseal-and-shred run (`{"job": "rotate"}`), or None without epochs."""
        if shred is None:
            return None
        return events.Rule(
            self,
            "ShredSchedule",
            description="Daily: reseal live cards under the current shred epoch, shred drained epochs (PCI DSS 3.7.5)",
            schedule=events.Schedule.cron(minute="41", hour=str(shred.schedule_hour_utc)),
            # "Using resource-based policies for Amazon EventBridge": the target adds a Lambda permission for
            # events.amazonaws.com limited to this rule's ARN.
            targets=[
                events_targets.LambdaFunction(
                    self.keys, event=events.RuleTargetInput.from_object({"job": "rotate"}), retry_attempts=2
                )
            ],
        )

    # -- functions -------------------------------------------------------------------------

    def _security_group(
        self, name: str, endpoint_security_group: ec2.ISecurityGroup | None, services: str
    ) -> ec2.SecurityGroup:
        """The function's own group: HTTPS to the interface endpoints' group when it calls AWS services
        (`services`), nothing else (the database egress is the client group's)."""
        group = ec2.SecurityGroup(
            self,
            f"{name}SecurityGroup",
            vpc=self._vpc,
            description=f"Card vault {name} function: " + (f"{services} endpoints only" if services else "no egress"),
            allow_all_outbound=False,
        )
        if endpoint_security_group is not None:
            group.add_egress_rule(endpoint_security_group, ec2.Port.tcp(HTTPS), f"To the {services} endpoints")
        self.security_groups[name] = group
        return group

    def _log_group(self, name: str) -> EncryptedLogGroup:
        group = EncryptedLogGroup(
            self,
            f"{name}Logs",
            encryption_key=self._log_key,
            retention_days=self._log_retention_days,
            # Defence in depth behind the functions' own masker (lambda/card_vault/pan.py).
            mask_card_numbers=True,
        )
        self.log_groups[name] = group
        return group

    def _role(self, name: str, log_group: EncryptedLogGroup, statements: list[iam.PolicyStatement]) -> iam.IRole:
        """A role with every permission in one managed policy the function waits for (no AWS managed policies)."""
        role = iam.Role(
            self,
            f"{name}Role",
            description=f"Card vault {name} function",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            # The one exception of the cardholder-data key's use deny (key_ring.card_vault_role_path).
            path=card_vault_role_path(self._alias_prefix),
        )
        policy = iam.ManagedPolicy(
            self,
            f"{name}Policy",
            description=f"Card vault {name}: logs, network interfaces, tracing and its own data access",
            roles=[role],
            statements=[
                iam.PolicyStatement(
                    actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                    resources=[log_group.log_group.log_group_arn],
                ),
                # "Giving Lambda functions access to resources in an Amazon VPC": the ENI actions,
                # which EC2 does not scope to resources (what AWSLambdaVPCAccessExecutionRole grants).
                iam.PolicyStatement(actions=list(NETWORK_INTERFACE_ACTIONS), resources=["*"]),
                # "Visualize Lambda function invocations using AWS X-Ray": no resource-level permissions.
                iam.PolicyStatement(actions=["xray:PutTraceSegments", "xray:PutTelemetryRecords"], resources=["*"]),
                iam.PolicyStatement(actions=["kms:Decrypt"], resources=[self.environment_key.key_arn]),
                *statements,
            ],
        )
        self._policies = getattr(self, "_policies", {})
        self._policies[name] = policy
        return role.without_policy_updates()

    def _protect_functions(self) -> None:
        """The protection tag on every vault function (security review r27, H1): the permissions boundary then
        denies every bounded principal, break-glass included, any change to its code, configuration, versions,
        aliases or resource policy (`NoCodeChange`), so none can make a vault role decrypt for it. The API and the
        purge are invoked only by AWS services (the load balancer, EventBridge), to which a boundary never
        applies: `true` also denies invoking them (`NoProtected`), so no principal sends the API a forged
        mutual-TLS header. Detokenize (its callers' roles), the Keys job (operators) and the migration (CDK's
        trigger provider, a bounded role) keep invoking: `code`. CloudFormation's execution role carries no
        boundary, so deploys change them as before."""
        for function, value in (
            (self.api, PROTECTED_TAG_VALUE),
            (self.purge, PROTECTED_TAG_VALUE),
            (self.detokenize, CODE_PROTECTED_TAG_VALUE),
            (self.keys, CODE_PROTECTED_TAG_VALUE),
            (self.migrate, CODE_PROTECTED_TAG_VALUE),
        ):
            Tags.of(function).add(PROTECTED_TAG_KEY, value)

    def _function(
        self, name: str, spec: _FunctionSpec, *, concurrency: int | None, unreserved_reason: str = _UNRESERVED_REASON
    ) -> lambda_.Function:
        function = lambda_.Function(self, name, **self._function_props(name, spec))
        record_sbom_source(function, LAMBDA_ROOT / spec.requirements / "requirements.txt")
        _record_card_data(function, spec.card_data)
        function.node.add_dependency(self._policies[name])
        # A ceiling on database connections through the proxy and on blast radius; it comes out of the
        # region's pool, which Lambda keeps above its minimum unreserved figure (make preflight checks it).
        assert isinstance(function.node.default_child, lambda_.CfnFunction)
        function.node.default_child.reserved_concurrent_executions = concurrency
        if concurrency is None:
            _accept_unreserved(function, unreserved_reason)
        return function

    def _function_props(self, name: str, spec: _FunctionSpec) -> dict[str, Any]:
        """Lambda function properties shared by every vault function (its log group and role made here)."""
        log_group = self._log_group(name)
        return {
            "runtime": RUNTIME,
            "architecture": lambda_.Architecture.X86_64,
            "handler": spec.handler,
            "code": python_asset(
                package=PACKAGE, requirements=LAMBDA_ROOT / spec.requirements / "requirements.txt", runtime=RUNTIME
            ),
            "description": spec.description,
            # Never the event in a log, never a response or an exception in a trace (card data).
            "environment": {
                **spec.environment,
                "POWERTOOLS_LOGGER_LOG_EVENT": "false",
                "POWERTOOLS_TRACER_CAPTURE_RESPONSE": "false",
                "POWERTOOLS_TRACER_CAPTURE_ERROR": "false",
            },
            "environment_encryption": self.environment_key,
            "vpc": self._vpc,
            "vpc_subnets": self._subnets,
            "security_groups": spec.security_groups,
            "allow_public_subnet": False,
            "timeout": spec.timeout,
            "memory_size": 512,
            "tracing": lambda_.Tracing.ACTIVE,
            "log_group": log_group.log_group,
            "logging_format": lambda_.LoggingFormat.JSON,
            "role": self._role(name, log_group, spec.statements),
        }

    def _secrets_decrypt_statement(self) -> iam.PolicyStatement:
        return iam.PolicyStatement(
            actions=["kms:Decrypt"],
            resources=[self._secrets_key.key_arn],
            conditions={"StringEquals": {"kms:ViaService": f"secretsmanager.{Stack.of(self).region}.amazonaws.com"}},
        )

    # -- migration trigger -----------------------------------------------------------------

    def _migration_security_group(
        self, database: VaultDatabase, endpoint_security_group: ec2.ISecurityGroup
    ) -> ec2.SecurityGroup:
        """The migration reaches the instance directly (the proxy serves IAM logins only) and Secrets Manager."""
        group = ec2.SecurityGroup(
            self,
            "MigrationSecurityGroup",
            vpc=self._vpc,
            description="Card vault migration trigger: the CDE database and the Secrets Manager endpoint only",
            allow_all_outbound=False,
        )
        group.add_egress_rule(endpoint_security_group, ec2.Port.tcp(HTTPS), "To the Secrets Manager endpoint")
        group.add_egress_rule(database.database_security_group, ec2.Port.tcp(database.port), "To the CDE database")
        database.database_security_group.add_ingress_rule(
            group, ec2.Port.tcp(database.port), "From the card vault migration trigger", remote_rule=True
        )
        return group

    def _migration_trigger(
        self,
        database: VaultDatabase,
        concurrency: int | None,
        search: CardSearchGuard,
        data_key: tuple[int, kms.IKey],
        api_concurrency: int | None,
        clients: tuple[VaultClient, ...],
    ) -> triggers.TriggerFunction:
        name = "Migrate"
        spec = _FunctionSpec(
            handler="card_vault.migrate.handler",
            requirements="migrate",
            description="Card vault schema migrations and database roles, run at every deploy that changes them",
            environment={
                "VAULT_MIGRATION_SECRET_ID": database.master_secret.secret_arn,
                "VAULT_DB_HOST": database.instance_endpoint,
                "VAULT_DB_PORT": str(database.port),
                "VAULT_DB_NAME": database.database_name,
                # The post-deploy phase waits out requests the previous code began (the request functions' timeout).
                "VAULT_MIGRATION_DRAIN_SECONDS": str(int(REQUEST_TIMEOUT.to_seconds())),
                # The card-search bound, written into vault.card_search_settings at every run (migration
                # 0021): the API login neither passes nor writes it. A change here is a new version of the
                # function, so both triggers run again (execute_on_handler_change).
                "VAULT_SIBLING_LIMIT": str(search.max_siblings),
                "VAULT_SIBLING_WINDOW_SECONDS": str(search.window_minutes * 60),
                # Each client's tokenize budget, written into vault.tokenize_limits at every run and checked inside
                # vault.reserve_card_hashes (migration 0034, red team r19d finding 4): the API login cannot reset it.
                # A client ID the configuration does not name gets the lowest configured budget.
                "VAULT_TOKENIZE_LIMITS": json.dumps(
                    {
                        "default": min((c.tokenize_per_minute for c in clients), default=600),
                        "clients": {c.client_id: c.tokenize_per_minute for c in clients},
                    },
                    sort_keys=True,
                ),
                # The shred epoch and KMS key of every new data key, written into vault.data_key_settings at every
                # run (migration 0029, red team r19c M1): vault.save_data_key records that epoch, no login's choice.
                "VAULT_DATA_KEY_EPOCH": str(data_key[0]),
                "VAULT_DATA_KEY_KMS_KEY_ARN": data_key[1].key_arn,
                # The API login's CONNECTION LIMIT (migration 0033, red team r19d finding 3): its reserved
                # concurrency times its pool of one connection (runtime.build_vault), doubled for the proxy's
                # connection churn; -1 (none) when the API reserves no concurrency.
                "VAULT_API_CONNECTION_LIMIT": str(-1 if api_concurrency is None else 2 * api_concurrency),
            },
            security_groups=[self.migration_security_group],
            timeout=MIGRATION_TIMEOUT,
            statements=[
                iam.PolicyStatement(
                    actions=["secretsmanager:GetSecretValue"], resources=[database.master_secret.secret_arn]
                ),
                self._secrets_decrypt_statement(),
            ],
            card_data=_CardData(
                receives=(), sends=(), stores=("schema changes (DDL) and database roles: no card data",)
            ),
        )
        props = self._function_props(name, spec)
        props["reserved_concurrent_executions"] = concurrency
        trigger = triggers.TriggerFunction(
            self,
            name,
            execute_on_handler_change=True,
            **props,
        )
        trigger.node.add_dependency(self._policies[name])
        record_sbom_source(trigger, LAMBDA_ROOT / spec.requirements / "requirements.txt")
        _record_card_data(trigger, spec.card_data)
        waiting = trigger.node.find_child("Trigger").node.find_child("Default").node.default_child
        if not isinstance(waiting, CfnResource):
            raise TypeError("aws_cdk.triggers changed its custom resource; review the trigger's wait")
        waiting.add_property_override("Timeout", str(int(TRIGGER_WAIT.to_milliseconds())))
        if concurrency is None:
            _accept_unreserved(trigger)
        # The trigger's CDK provider (a stack-wide singleton) logs to its own encrypted, retained group.
        provider = Stack.of(self).node.try_find_child(TRIGGER_PROVIDER)
        if not isinstance(provider, Construct):
            raise TypeError(f"{TRIGGER_PROVIDER}: aws_cdk.triggers changed its provider; review this hardening")
        self.trigger_provider_logs = harden_provider(
            provider, log_key=self._log_key, log_retention_days=self._log_retention_days
        )
        return trigger

    def _post_migration_trigger(self) -> triggers.Trigger:
        """The contract half of the migrations (`migrations/post/`), after CloudFormation has updated every
        function of the vault: a migration that takes away what the previous code needs (a revoke, NOT NULL,
        a drop) must not run while that code still serves requests (expand before, contract after).

        It invokes the migration function through its alias `post` (the handler reads the phase from
        the invoked ARN) and depends on every other resource of the vault, so it is the vault's last
        step: nothing it waits for can still fail afterwards and roll the functions back to code the
        contracted schema no longer serves. The provider's role may invoke any qualifier of the function
        (`<function ARN>:*`, granted by `aws_cdk.triggers`), the alias included."""
        alias = lambda_.Alias(self, "MigratePostAlias", alias_name=POST_ALIAS, version=self.migrate.current_version)
        trigger = triggers.Trigger(
            self, "MigratePost", handler=self.migrate, timeout=TRIGGER_WAIT, execute_on_handler_change=True
        )
        default = trigger.node.find_child("Default").node.default_child
        if not isinstance(default, CfnResource):
            raise TypeError("aws_cdk.triggers changed its custom resource; review the post-deploy trigger")
        # The provider invokes `HandlerArn`; the version ARN beside it changes with every new version, so
        # CloudFormation updates the resource (and the provider invokes the alias) when the code changes.
        default.add_property_override("HandlerArn", alias.function_arn)
        default.add_property_override("HandlerVersionArn", self.migrate.current_version.function_arn)
        # Every resource of the stack, whoever adds it (the Workload stack's own topic, a fork's additions).
        Aspects.of(Stack.of(self)).add(_RunsLast(default))
        return trigger

    # -- alarms ----------------------------------------------------------------------------

    def _known_card_alarm(self, client: VaultClient, alarm: KnownCardAlarm, topic: sns.ITopic) -> cloudwatch.Alarm:
        """Alarm when the client's share of known-card tokenize answers exceeds its threshold.

        Metric math on the API's EMF metrics (one pair per client): the share counts only once the
        period holds `min_answers` answers, so a quiet client's one repeat does not alarm.
        """
        period = Duration.minutes(alarm.period_minutes)
        dimensions = {"client_id": client.client_id, "service": SERVICE_NAME}

        def metric(name: str) -> cloudwatch.Metric:
            return cloudwatch.Metric(
                namespace=METRIC_NAMESPACE,
                metric_name=name,
                dimensions_map=dimensions,
                statistic=cloudwatch.Stats.SUM,
                period=period,
            )

        share = cloudwatch.MathExpression(
            expression=(
                f"IF((FILL(known, 0) + FILL(new, 0)) >= {alarm.min_answers},"
                " 100 * FILL(known, 0) / (FILL(known, 0) + FILL(new, 0)), 0)"
            ),
            using_metrics={"known": metric(KNOWN_CARD_METRIC), "new": metric(NEW_CARD_METRIC)},
            period=period,
            label=f"Known-card share of {client.client_id}'s tokenize answers (percent)",
        )
        created = share.create_alarm(
            self,
            f"KnownCardShare{''.join(part.title() for part in client.client_id.split('-'))}",
            alarm_description=(
                f"Card vault client {client.client_id}: more than {client.known_card_alarm_percent}% of its tokenize"
                f" answers in {alarm.period_minutes} minutes were cards already stored (with at least"
                f" {alarm.min_answers} answers): a search for card numbers through tokenize and lookup"
                " (issue 19 finding 2; PCI DSS v4.0.1 3.5.1, 10.4.1.1)"
            ),
            threshold=client.known_card_alarm_percent,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            evaluation_periods=1,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        notify(created, topic)
        return created

    def _name_alarms(self, prefix: str) -> None:
        """`<prefix><construct ID>` on every alarm of the vault (IDs are unique within it, and stable: they come
        from client IDs and caller role names, never from a position). A rename replaces the alarm, which holds
        no state. CloudWatch alarm names are at most 255 characters ("PutMetricAlarm", CloudWatch API Reference)."""
        alarms = [*self.known_card_alarms.values(), *self.new_card_alarms.values()]
        alarms += [*self.detokenize_alarms.values(), *self.sibling_alarms.values(), *self.crl_alarms.values()]
        alarms += [*self.keys_alarms.values(), self.guard_closed_alarm]
        for alarm in alarms:
            name = f"{prefix}{alarm.node.id}"
            if len(name) > 255:
                raise ValueError(f"alarm_name_prefix: the alarm name {name!r} exceeds CloudWatch's 255 characters")
            cast(cloudwatch.CfnAlarm, alarm.node.default_child).alarm_name = name

    def _volume_alarm(
        self, client: VaultClient, metric_name: str, threshold: int, period_minutes: int, topic: sns.ITopic, what: str
    ) -> cloudwatch.Alarm:
        """Alarm when the client's sum of the API's EMF metric `metric_name` in one period reaches `threshold`."""
        metric = cloudwatch.Metric(
            namespace=METRIC_NAMESPACE,
            metric_name=metric_name,
            dimensions_map={"client_id": client.client_id, "service": SERVICE_NAME},
            statistic=cloudwatch.Stats.SUM,
            period=Duration.minutes(period_minutes),
        )
        return self._count_alarm(
            metric,
            f"{metric_name.removesuffix('Answers')}{''.join(part.title() for part in client.client_id.split('-'))}",
            description=(
                f"Card vault client {client.client_id}: {threshold} or more {what} in {period_minutes} minutes"
                " (issue 19, red-team r19 F1; PCI DSS v4.0.1 3.5.1, 10.4.1.1)"
            ),
            threshold=threshold,
            topic=topic,
        )

    def _count_alarm(
        self, metric: cloudwatch.Metric, construct_id: str, *, description: str, threshold: int, topic: sns.ITopic
    ) -> cloudwatch.Alarm:
        """The vault's count alarm: `metric` (a sum over one period) at or above `threshold` in one evaluation
        period, missing data not breaching, notifying `topic`. Shared by the per-client volume alarms and the
        per-caller detokenize alarm, which differ only in their metric, ID and description."""
        return self._alarm(metric, construct_id, description=description, threshold=threshold, topic=topic)

    def _alarm(
        self,
        metric: cloudwatch.Metric,
        construct_id: str,
        *,
        description: str,
        threshold: float,
        topic: sns.ITopic,
        comparison: cloudwatch.ComparisonOperator = cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        evaluation_periods: int = 1,
        missing: cloudwatch.TreatMissingData = cloudwatch.TreatMissingData.NOT_BREACHING,
    ) -> cloudwatch.Alarm:
        """The vault's one alarm helper: `metric` against `threshold` by `comparison`, alarming when all
        `evaluation_periods` most recent periods breach (M = N), missing data treated as `missing`, notifying
        `topic` (an SNS topic of the alarm's own region)."""
        created = metric.create_alarm(
            self,
            construct_id,
            alarm_description=description,
            threshold=threshold,
            comparison_operator=comparison,
            evaluation_periods=evaluation_periods,
            datapoints_to_alarm=evaluation_periods if evaluation_periods > 1 else None,
            treat_missing_data=missing,
        )
        notify(created, topic)
        return created

    # -- client CRL check --------------------------------------------------------------------

    def _crl_check(self, crl: ClientCrlCheck, endpoint_security_group: ec2.ISecurityGroup, topic: sns.ITopic) -> None:
        """The daily check of the client CRL (`card_vault.crl_check`), its schedule and its three alarms.

        Network: its own security group, HTTPS to the interface endpoints' group (X-Ray) and to Amazon S3's
        AWS-managed prefix list, whose ID a deploy-time lookup gives (`ManagedPrefixListLookup`; "Gateway
        endpoints for Amazon S3", AWS PrivateLink Guide: the groups of what reaches S3 through a gateway
        endpoint must allow traffic to S3, by the prefix list's ID). The application subnets route S3's
        prefixes to the gateway endpoint, whose policy admits this account's principals only.

        IAM: `s3:GetObjectVersion` on the one object key ("GetObject", Amazon S3 API Reference, permissions:
        with a `versionId` the request needs `s3:GetObjectVersion`, not `s3:GetObject`); no other key, no
        bucket action. An SSE-KMS bucket (`kms_key_arn`): `kms:Decrypt` on that key, only when S3 asks for it
        in this region (`kms:ViaService` = `s3.<region>.amazonaws.com`, "AWS KMS condition keys", AWS KMS
        Developer Guide). AWS re:Post "Do I need to specify the AWS KMS key when I download a KMS-encrypted
        object from Amazon S3?": reading an SSE-KMS object needs kms:Decrypt on its key; in the same account
        the key policy must allow it or let IAM policies grant it (the default key policy's account statement
        does), and a key of another account must allow it in its own key policy too: that grant is the key
        owner's, naming this role.
        Raises ValueError for a key ARN of another region than the stack's.

        Schedule: an EventBridge rule, daily at `schedule_hour_utc`:47 ("Using resource-based policies for
        Amazon EventBridge": the target adds a Lambda permission for events.amazonaws.com limited to the rule's
        ARN), two retries of the asynchronous invocation.

        Alarms (hourly periods, 25 of them, all breaching to alarm, missing data breaching; "Configuring how
        CloudWatch alarms treat missing data" and "PutMetricAlarm", CloudWatch API Reference: a period of an
        hour or more may span up to 7 days): the daily run leaves one data point in any 25 hours, so an alarm
        fires when no run reported in 25 hours (a check that stopped running alarms), and two hours after a
        breaching run (once the day before's point has left the window; `tests/test_card_vault.py` models it).
        `ClientCrlDue`: days to nextUpdate at or below `warn_days`; `ClientCrlExpired`: at or below 0;
        `ClientCrlCheckErrors`: a failed invocation (the list unreadable, not a CRL, or no nextUpdate), within
        the hour."""
        if not 0 <= crl.warn_days <= 365:
            raise ValueError(f"client_crl.warn_days={crl.warn_days}: must be 0-365")
        if not 0 <= crl.schedule_hour_utc <= 23:
            raise ValueError(f"client_crl.schedule_hour_utc={crl.schedule_hour_utc}: must be 0-23")
        region = Stack.of(self).region
        self.s3_prefix_list = ManagedPrefixListLookup(
            self,
            "S3PrefixList",
            prefix_list_name=s3_prefix_list_name(region),
            log_key=self._log_key,
            log_retention_days=self._log_retention_days,
        )
        group = self._security_group("CrlCheck", endpoint_security_group, "X-Ray")
        group.add_egress_rule(
            ec2.Peer.prefix_list(self.s3_prefix_list.prefix_list_id),
            ec2.Port.tcp(HTTPS),
            "To Amazon S3 through the gateway endpoint (the CRL object)",
        )
        stack = Stack.of(self)
        object_arn = f"arn:{stack.partition}:s3:::{crl.bucket}/{crl.key}"
        statements = [iam.PolicyStatement(actions=["s3:GetObjectVersion"], resources=[object_arn])]
        if crl.kms_key_arn is not None:
            key_region = crl.kms_key_arn.split(":")[3]
            if not Token.is_unresolved(region) and key_region != region:
                raise ValueError(
                    f"client_crl.kms_key_arn is in {key_region}: the bucket's key must be in the check's region"
                    f" {region}"
                )
            statements.append(
                iam.PolicyStatement(
                    actions=["kms:Decrypt"],
                    resources=[crl.kms_key_arn],
                    conditions={"StringEquals": {"kms:ViaService": f"s3.{region}.amazonaws.com"}},
                )
            )
        self.crl_check = self._function(
            "CrlCheck",
            _FunctionSpec(
                handler="card_vault.crl_check.handler",
                requirements="crl_check",
                description="Card vault: daily check of the client CRL's nextUpdate (the trust store's list)",
                environment={
                    "VAULT_CRL_BUCKET": crl.bucket,
                    "VAULT_CRL_KEY": crl.key,
                    "VAULT_CRL_VERSION": crl.version,
                    "VAULT_CRL_WARN_DAYS": str(crl.warn_days),
                    "POWERTOOLS_SERVICE_NAME": SERVICE_NAME,
                },
                security_groups=[group],
                timeout=Duration.minutes(1),
                statements=statements,
                # A CRL: certificate serial numbers, revocation dates and the issuer's name.
                card_data=_CardData(receives=(), sends=(), stores=()),
            ),
            concurrency=None,
            unreserved_reason=_CRL_UNRESERVED_REASON,
        )
        self.crl_check.node.add_dependency(self.s3_prefix_list)
        justify(
            self,
            self.crl_check,
            rule="NIST.800.53.R5-LambdaDLQ",
            reason=(
                "the client-CRL check is read-only and daily: EventBridge retries a failed run twice, the error"
                " alarm fires on the failure and the days alarms once no run has reported for 25 hours, so a"
                " dead-letter queue would only hold copies of the empty event"
            ),
            requirement="PCI DSS v4.0.1 10.7.2",
        )
        policy = self._policies["CrlCheck"].node.default_child
        assert policy is not None
        justify(
            self,
            policy,
            rule="AwsSolutions-IAM5[Resource::*]",
            reason=(
                "the Lambda VPC network-interface actions and X-Ray's PutTraceSegments/PutTelemetryRecords have no"
                " resource-level permissions in IAM; the check's one data statement names the CRL's object key"
            ),
            requirement="PCI DSS v4.0.1 7.2.1, 7.2.2",
        )
        self.crl_check_rule = events.Rule(
            self,
            "CrlCheckSchedule",
            description="Daily check of the client CRL's nextUpdate (PCI DSS 8.3.1, 4.2.1)",
            schedule=events.Schedule.cron(minute="47", hour=str(crl.schedule_hour_utc)),
            targets=[
                events_targets.LambdaFunction(
                    self.crl_check, event=events.RuleTargetInput.from_object({}), retry_attempts=2
                )
            ],
        )
        days = cloudwatch.Metric(
            namespace=METRIC_NAMESPACE,
            metric_name=CRL_DAYS_METRIC,
            dimensions_map={"service": SERVICE_NAME},
            statistic=cloudwatch.Stats.MINIMUM,
            period=Duration.hours(1),
        )
        where = f"s3://{crl.bucket}/{crl.key} (version {crl.version})"
        stale = f" or the daily check has not reported for {CRL_ALARM_HOURS} hours"
        fix = (
            ": publish a new CRL as a new object version, set card_vault.client_crl.version and deploy"
            " (issue 19 finding 9; PCI DSS v4.0.1 8.3.1, 4.2.1)"
        )

        def days_alarm(construct_id: str, threshold: int, what: str) -> cloudwatch.Alarm:
            return self._alarm(
                days,
                construct_id,
                description=f"Client CRL {where}: {what}{stale}{fix}",
                threshold=threshold,
                topic=topic,
                comparison=cloudwatch.ComparisonOperator.LESS_THAN_OR_EQUAL_TO_THRESHOLD,
                evaluation_periods=CRL_ALARM_HOURS,
                missing=cloudwatch.TreatMissingData.BREACHING,
            )

        self.crl_alarms = {
            "due": days_alarm("ClientCrlDue", crl.warn_days, f"nextUpdate {crl.warn_days} days away or fewer"),
            "expired": days_alarm("ClientCrlExpired", 0, "nextUpdate has passed, the trust store holds a stale list"),
            "errors": self._alarm(
                self.crl_check.metric_errors(statistic=cloudwatch.Stats.SUM, period=Duration.hours(1)),
                "ClientCrlCheckErrors",
                description=(
                    f"Client CRL {where}: the daily check failed (the object version unreadable, not a PEM CRL or"
                    " without nextUpdate); its log group names the reason (issue 19 finding 9)"
                ),
                threshold=1,
                topic=topic,
            ),
        }

    def _guard_closed_alarm(self, topic: sns.ITopic) -> cloudwatch.Alarm:
        """Alarm when the database refuses tokenize requests because it closed every reservation after a reset of
        its unlogged sibling counts (a crash, failover or restore, or a backend of the API's login crashed:
        migrations 0033, 0034, red team r19d): the API counts each such refusal in `SiblingGuardClosed`; one in 5
        minutes alarms, to the alerts topic as the CRL and Keys alarms. Tokenization stays closed until the
        window ends (`card_search.window_minutes`); the alarm says why, and that it may have been caused."""
        return self._alarm(
            _service_sum(GUARD_CLOSED_METRIC, GUARD_CLOSED_PERIOD),
            "TokenizeGuardClosed",
            description=(
                "Card vault: tokenization refused because the database's unlogged sibling counts were reset (a"
                " crash, failover or restore, or a crashed backend of the API's login) and every reservation is"
                " closed for one card-search window; look for the cause in the database's log (PCI DSS v4.0.1"
                " 3.5.1, 10.7.2)"
            ),
            threshold=1,
            topic=topic,
        )

    def _keys_alarms(self, topic: sns.ITopic) -> dict[str, cloudwatch.Alarm]:
        """Alarms on the Keys job (red team r19d finding 1): any failed run in an hour (the function's `Errors`,
        "Monitoring functions on the Lambda console" / "Types of metrics for Lambda functions", Lambda Developer
        Guide: invocations that result in a function error), any card its re-seal skipped as unreadable
        (`ResealUnreadable`), any it disposed of (`UnreadableDisposed`, migration 0036) and any data key its
        verification quarantined (`DataKeyQuarantined`), each summed
        over a day (the job runs daily), to the alerts topic as the CRL check's."""
        return {
            "errors": self._alarm(
                self.keys.metric_errors(statistic=cloudwatch.Stats.SUM, period=Duration.hours(1)),
                "KeysJobErrors",
                description=(
                    "Card vault Keys job (rehash, rewrap, reseal, shred, rotate) failed: crypto-shredding and key"
                    " rotation stop until it runs; its log group names the job (PCI DSS v4.0.1 3.6.1, 3.7.5)"
                ),
                threshold=1,
                topic=topic,
            ),
            "unreadable": self._alarm(
                _service_sum(RESEAL_UNREADABLE_METRIC, Duration.days(1)),
                "KeysResealUnreadable",
                description=(
                    "Card vault re-seal skipped cards it cannot open (a planted or tampered row): their shred epoch"
                    " stays in use and its KMS key is never due for deletion. The warning log line names their"
                    " tokens' sha256 fingerprints; dispose of them (red team r19d, PCI DSS v4.0.1 3.7.5)"
                ),
                threshold=1,
                topic=topic,
            ),
            "disposed": self._alarm(
                _service_sum(UNREADABLE_DISPOSED_METRIC, Duration.days(1)),
                "KeysUnreadableDisposed",
                description=(
                    "Card vault re-seal deleted cards it could not open for 20 hours or more (migration 0036): the"
                    " ResealUnreadable alarm named their tokens' sha256 fingerprints a day earlier;"
                    " vault.unreadable_cards records each (red team r19e, PCI DSS v4.0.1 3.7.5)"
                ),
                threshold=1,
                topic=topic,
            ),
            "quarantined": self._alarm(
                _service_sum(DATA_KEY_QUARANTINED_METRIC, Duration.days(1)),
                "KeysDataKeyQuarantined",
                description=(
                    "Card vault: a data key the API recorded is not wrapped by the KMS key recorded beside it (or"
                    " that key is not the vault's); the Keys job quarantined it. The API's database login or role"
                    " is misused: investigate (red team r19d finding 2, migration 0032; PCI DSS v4.0.1 3.6.1)"
                ),
                threshold=1,
                topic=topic,
            ),
        }

    # -- callers ---------------------------------------------------------------------------

    def _allow_detokenize_callers(self, role_arns: tuple[str, ...]) -> dict[str, lambda_.Alias]:
        """One alias per caller role, its resource policy naming that role only.

        "Using Lambda aliases in event sources and permissions policies" (Lambda Developer Guide): a
        permission on an alias lets the principal invoke that alias's ARN, and invoking the function
        without the alias is then a permission error. The function reads the alias from its invoked ARN
        and counts each caller's detokenizations against its own budget (`card_vault.detokenize`). The
        alias name comes from the role's name (`caller-<name>`), so reordering the list changes nothing;
        each alias points at the function's current version (a new version each time its code or
        configuration changes, published by CloudFormation after the function's update).
        """
        aliases = {}
        for arn in role_arns:
            name = detokenize_alias_name(arn)
            if name in aliases:
                raise ValueError(f"detokenize_caller_role_arns: two roles give the alias name {name!r}")
            alias = lambda_.Alias(
                self,
                f"Detokenize{name.title().replace('-', '').replace('_', '')}",
                alias_name=name,
                version=self.detokenize.current_version,
                description=f"Detokenize caller {arn.rsplit('/', 1)[-1]}: its own rate limit and volume alarm",
            )
            alias.add_permission("Caller", principal=iam.ArnPrincipal(arn), action="lambda:InvokeFunction")
            aliases[name] = alias
        return aliases

    def _detokenize_alarm(
        self, name: str, alias: lambda_.Alias, threshold: int, period_minutes: int, topic: sns.ITopic
    ) -> cloudwatch.Alarm:
        """Alarm when one caller's invocations of its alias reach `threshold` in a period. Lambda's own
        `Invocations` metric with the `Resource` dimension (function:alias; "Types of metrics for Lambda
        functions", Lambda Developer Guide): it counts every invocation, whatever the code does."""
        return self._count_alarm(
            alias.metric_invocations(statistic=cloudwatch.Stats.SUM, period=Duration.minutes(period_minutes)),
            f"DetokenizeVolume{name.title().replace('-', '').replace('_', '')}",
            description=(
                f"Card vault detokenize caller {name}: {threshold} or more detokenizations in {period_minutes}"
                " minutes (issue 19; PCI DSS v4.0.1 3.4.2, 10.4.1.1)"
            ),
            threshold=threshold,
            topic=topic,
        )

    def _alb_route(
        self, listener: elbv2.IApplicationListener, priority: int, name: str
    ) -> tuple[elbv2.ApplicationTargetGroup, elbv2.ApplicationListenerRule]:
        """`/v1/*` -> the API function, through a target group of a fixed name.

        "Use Lambda functions as targets of an Application Load Balancer" (ELB User Guide, prepare the
        Lambda function) and "Viewing resource-based IAM policies in Lambda" / "Using resource-based
        policies for Lambda" (Lambda Developer Guide): the permission for elasticloadbalancing.amazonaws.com
        names the target group as SourceArn, which Lambda matches as a pattern, plus SourceAccount. The
        fixed name gives `targetgroup/<name>/*` before the group exists, so the permission comes first
        (ELB tests it at registration) and no reference cycle forms; without it, any target group of any
        account could front the function and skip the mutual-TLS listener.

        A fixed name cannot be replaced in place: every property that would replace a Lambda target
        group (name, target type, protocol, port, VPC) is constant here, and the name depends only on
        the environment, unique per account and region (two environments never share one).
        """
        stack = Stack.of(self)
        self.alb_permission = lambda_.CfnPermission(
            self.api,
            "InvokeFromAlb",
            action="lambda:InvokeFunction",
            function_name=self.api.function_arn,
            principal="elasticloadbalancing.amazonaws.com",
            source_arn=f"arn:{stack.partition}:elasticloadbalancing:{stack.region}:{stack.account}:targetgroup/{name}/*",
            source_account=stack.account,
        )
        target_group = elbv2.ApplicationTargetGroup(
            self,
            "ApiTargets",
            target_group_name=name,
            target_type=elbv2.TargetType.LAMBDA,
            targets=[_ApiTarget(self.api, self.alb_permission)],
            # "Lambda functions as targets" (ELB User Guide, multi-value headers): on, every value of a repeated
            # header reaches the function (`multiValueHeaders`) and the response is read from `multiValueHeaders`;
            # off, "the load balancer uses the last value sent by the client" (ELB API reference,
            # TargetGroupAttribute). The API refuses a repeated X-Amzn-Mtls-Clientcert-* header, a client's copy
            # beside the load balancer's, and any such header in a single-value event (card_vault.api).
            # An attribute change updates the target group in place (no replacement).
            multi_value_headers_enabled=True,
            # "Lambda functions as targets" (ELB): health checks are off by default for a Lambda target;
            # on, the load balancer invokes the function with a GET of the path (no client certificate),
            # the timeout below the interval. The API answers 200 or 503 and nothing else.
            health_check=elbv2.HealthCheck(
                enabled=True,
                path=HEALTH_CHECK_PATH,
                interval=Duration.seconds(60),
                timeout=Duration.seconds(30),
                healthy_threshold_count=2,
                unhealthy_threshold_count=3,
                healthy_http_codes="200",
            ),
        )
        rule = elbv2.ApplicationListenerRule(
            self,
            "ApiRoute",
            listener=listener,
            priority=priority,
            conditions=[elbv2.ListenerCondition.path_patterns([API_PATH_PATTERN])],
            action=elbv2.ListenerAction.forward([target_group]),
        )
        return target_group, rule


@jsii.implements(elbv2.IApplicationLoadBalancerTarget)
class _ApiTarget:
    """A Lambda target registered only after its source-scoped permission exists (CDK's LambdaTarget
    grants the load balancer with no SourceArn or SourceAccount)."""

    def __init__(self, function: lambda_.IFunction, permission: lambda_.CfnPermission) -> None:
        self._function = function
        self._permission = permission

    def attach_to_application_target_group(
        self, target_group: elbv2.IApplicationTargetGroup
    ) -> elbv2.LoadBalancerTargetProps:
        target_group.node.add_dependency(self._permission)
        return elbv2.LoadBalancerTargetProps(
            target_type=elbv2.TargetType.LAMBDA, target_json={"id": self._function.function_arn}
        )


def _accept_unreserved(function: lambda_.Function, reason: str = _UNRESERVED_REASON) -> None:
    """The construct's own justification, carried wherever it is used, for a function left unreserved."""
    for finding in _UNRESERVED_FINDINGS:
        Validations.of(function).acknowledge(Acknowledgment(id=finding, reason=f"{reason} [{_UNRESERVED_REQUIREMENT}]"))
    resource = function.node.default_child
    assert isinstance(resource, lambda_.CfnFunction)
    existing = resource.get_metadata("checkov") or {}
    skips = [*existing.get("skip", []), {"id": _UNRESERVED_CHECKOV, "comment": reason}]
    resource.add_metadata("checkov", {**existing, "skip": skips})


@dataclass(frozen=True)
class VaultClient:
    """An API client: certificate subject and issuer (RFC 2253) -> token domain and rights."""

    client_id: str
    subject: str
    issuer: str
    rights: tuple[str, ...]
    tokenize_per_minute: int = 600
    known_card_alarm_percent: int = 50
    new_card_alarm_count: int = 5000


def _record_card_data(function: lambda_.Function, card_data: _CardData) -> None:
    """Write what the function handles into its template metadata (`CARD_DATA_METADATA`)."""
    resource = function.node.default_child
    if not isinstance(resource, CfnResource):
        raise TypeError(f"{function.node.path}: no CloudFormation function to record its card data on")
    resource.add_metadata(CARD_DATA_METADATA, card_data.metadata())


def _data_key_statement(keys: kms.IKey | list[kms.IKey], action: str) -> iam.PolicyStatement:
    """Data keys of the cardholder-data key (or of the shred-epoch keys), only with the vault's encryption context."""
    resources = [key.key_arn for key in (keys if isinstance(keys, list) else [keys])]
    return iam.PolicyStatement(
        actions=[action], resources=resources, conditions={"StringEquals": dict(DATA_KEY_CONTEXT)}
    )


def _check_shred_epochs(shred: ShredEpochs) -> None:
    """Raises ValueError for what config/models.py `VaultShredEpochs` and KMS would refuse."""
    if not 1 <= len(shred.epochs) <= 4 or len(set(shred.epochs)) != len(shred.epochs):
        raise ValueError(f"shred_epochs.epochs={shred.epochs}: 1-4 distinct epochs")
    if not all(1 <= e <= 9999 for e in shred.epochs):
        raise ValueError(f"shred_epochs.epochs={shred.epochs}: each epoch must be 1-9999")
    if not 7 <= shred.deletion_window_days <= 30:
        raise ValueError(f"shred_epochs.deletion_window_days={shred.deletion_window_days}: KMS allows 7-30")
    if not 1 <= shred.backup_retention_days <= 35:
        raise ValueError(f"shred_epochs.backup_retention_days={shred.backup_retention_days}: RDS allows 1-35")
    if not 7 <= shred.epoch_days <= 3650 or not 0 <= shred.schedule_hour_utc <= 23:
        raise ValueError(f"shred_epochs={shred}: epoch_days 7-3650, schedule_hour_utc 0-23")


def _shred_epoch_key(
    scope: Construct, epoch: int, *, alias_prefix: str, administrator_role_arns: tuple[str, ...]
) -> kms.Key:
    """One shred epoch's key: symmetric, yearly rotation, retained (CloudFormation never deletes it; the Keys
    job schedules its deletion once the epoch is drained), tagged `pci-lz:shred-epoch`. The epoch is part of
    the construct ID and the alias, so epochs never replace each other. Its policy denies every use to all but
    the vault's roles and AWS service principals (`key_ring.only_the_card_vault_uses`)."""
    key = purpose_key(
        scope,
        f"ShredEpochKey{epoch}",
        alias=f"alias/{alias_prefix}/card-vault-shred-epoch-{epoch}",
        description=f"Card vault data keys of shred epoch {epoch}; deleted once drained (PCI DSS 3.7.5)",
    )
    separate_administrators(key, administrator_role_arns)
    # The epoch's data keys are the vault's alone: no IAM policy outside the templates decrypts them.
    only_the_card_vault_uses(
        key, card_vault_role_path(alias_prefix), sid="OnlyTheCardVaultUsesTheKey", through_service=None
    )
    Tags.of(key).add(SHRED_EPOCH_TAG, str(epoch))
    return key


def _only_the_keys_job_shreds(keys: Iterable[kms.Key], role: iam.IRole | None, administrators: Iterable[str]) -> None:
    """Each shred-epoch key's policy denies kms:ScheduleKeyDeletion to every principal but the key administrators
    (who schedule a drained epoch's deletion when the Keys job reports it `due`) and the Keys job's role (a fork
    whose roles carry no boundary may grant it there). An explicit Deny in a key policy wins over any Allow
    ("Policy evaluation logic", IAM User Guide), the account root's included; CancelKeyDeletion stays with the
    key administrators ("Deleting AWS KMS keys", AWS KMS Developer Guide). Without key administrators only the
    Keys role is exempt, which the boundary denies: no one can shred until administrators are configured."""
    if role is None:
        raise ValueError("the shred-epoch keys need the Keys job's role")
    for key in keys:
        key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="OnlyAdministratorsOrTheKeysJobScheduleDeletion",
                effect=iam.Effect.DENY,
                principals=[iam.AnyPrincipal()],
                actions=["kms:ScheduleKeyDeletion"],
                resources=["*"],
                conditions={"ArnNotEquals": {"aws:PrincipalArn": [role.role_arn, *administrators]}},
            )
        )


_HMAC_ROTATION_REASON = (
    "an HMAC KMS key cannot rotate automatically (AWS KMS Developer Guide, Rotating AWS KMS keys: symmetric"
    " encryption keys only); the card vault rotates its keyed-hash key by version (card_vault.hmac_key_versions"
    " and the re-hash job), yearly [PCI DSS v4.0.1 3.6.1]"
)


def _hmac_key(
    scope: Construct, version: int, *, alias_prefix: str, administrator_role_arns: tuple[str, ...]
) -> kms.Key:
    """The keyed-hash key of one version: HMAC_256, GENERATE_VERIFY_MAC, retained, 30-day deletion window.

    "HMAC keys in AWS KMS" (AWS KMS Developer Guide): the key material is generated in and never leaves
    KMS; GenerateMac and VerifyMac are its only cryptographic operations. "Controlling access to HMAC
    KMS keys": the key policy (CDK's default, the account root, so IAM policies grant its use) plus
    IAM policies naming the key; `kms:MacAlgorithm` limits the algorithm. KMS does not rotate HMAC keys
    automatically ("Rotating AWS KMS keys": symmetric encryption keys only), so rotation is a new
    version (a new key beside this one, then the re-hash job); the version is part of the construct ID
    and the alias, so versions never replace each other.
    """
    key = kms.Key(
        scope,
        f"HmacKeyV{version}",
        alias=f"alias/{alias_prefix}/card-vault-hmac-v{version}",
        description=f"Card vault keyed hash (duplicate detection), version {version} (PCI DSS 3.5.1.1)",
        key_spec=kms.KeySpec.HMAC_256,
        key_usage=kms.KeyUsage.GENERATE_VERIFY_MAC,
        enable_key_rotation=False,
        pending_window=Duration.days(30),
    )
    retain(key)
    only_grants_for_aws_resources(key)
    separate_administrators(key, administrator_role_arns)
    resource = key.node.default_child
    assert isinstance(resource, kms.CfnKey)
    # checkov's CKV_AWS_7 expects EnableKeyRotation on HMAC keys too; KMS refuses it for them.
    resource.add_metadata("checkov", {"skip": [{"id": "CKV_AWS_7", "comment": _HMAC_ROTATION_REASON}]})
    if administrator_role_arns:
        key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="KeyAdministratorsNeverMac",
                effect=iam.Effect.DENY,
                principals=[iam.ArnPrincipal(arn) for arn in administrator_role_arns],
                actions=["kms:GenerateMac", "kms:VerifyMac"],
                resources=["*"],
            )
        )
    return key


MAC_ACTIONS = ("kms:GenerateMac", "kms:VerifyMac")


def _only_vault_roles_mac(keys: Iterable[kms.Key], roles: Iterable[iam.IRole | None]) -> None:
    """Each keyed-hash key's policy denies kms:GenerateMac and kms:VerifyMac to every principal but `roles`
    (the API's and the Keys job's), whatever an identity policy grants: the key policy's account-root
    statement lets IAM policies of the account grant the key ("Key policies in AWS KMS", "Controlling
    access to HMAC KMS keys", AWS KMS Developer Guide), so PowerUserAccess or AdministratorAccess would
    otherwise compute the hash. An explicit Deny in a key policy wins over any Allow ("Policy evaluation
    logic", IAM User Guide); `aws:PrincipalArn` is the role's ARN for a role session ("AWS global condition
    context keys", IAM User Guide). Only the MAC actions are denied: key administration is untouched.

    Raises ValueError when no role is given (the deny would lock the vault out of its own hash).
    """
    arns = [role.role_arn for role in roles if role is not None]
    if not arns:
        raise ValueError("the keyed-hash keys need at least one vault role allowed to MAC")
    for key in keys:
        key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="OnlyTheVaultRolesMac",
                effect=iam.Effect.DENY,
                principals=[iam.AnyPrincipal()],
                actions=list(MAC_ACTIONS),
                resources=["*"],
                conditions={"ArnNotEquals": {"aws:PrincipalArn": arns}},
            )
        )


def _mac_statement(keys: list[kms.Key]) -> iam.PolicyStatement:
    """kms:GenerateMac on the keyed-hash keys with the vault's algorithm only ("Controlling access to HMAC
    KMS keys" and "AWS KMS condition keys: kms:MacAlgorithm", AWS KMS Developer Guide). No VerifyMac: the
    vault compares hashes in the database's unique index, never asks KMS to verify one."""
    return iam.PolicyStatement(
        actions=["kms:GenerateMac"],
        resources=[key.key_arn for key in keys],
        conditions={"StringEquals": {"kms:MacAlgorithm": MAC_ALGORITHM}},
    )


def _connect_statement(scope: Construct, database: VaultDatabase, user: str) -> iam.PolicyStatement:
    """`rds-db:connect` as one database user, through the proxy or to the instance ("Creating and using an
    IAM policy for IAM database access": the proxy's resource ID, prx-..., is the last part of its ARN;
    the instance's is its DbiResourceId)."""
    resource_id = (
        Fn.select(6, Fn.split(":", database.proxy.db_proxy_arn))
        if database.proxy is not None
        else database.instance_resource_id
    )
    return iam.PolicyStatement(
        actions=["rds-db:connect"],
        resources=[
            Stack.of(scope).format_arn(
                service="rds-db",
                resource="dbuser",
                resource_name=f"{resource_id}/{user}",
                arn_format=ArnFormat.COLON_RESOURCE_NAME,
            )
        ],
    )
