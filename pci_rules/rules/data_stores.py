"""Data stores a fork's CDE adds, one rule per rule of AWS's "Operational Best Practices for PCI DSS v4.0"
conformance pack that no Security Hub PCI DSS v4.0.1 control covers (the crosswalk, `pci_rules/CROSSWALK.md`,
names the Config rule), plus SQS and EFS encryption at rest, which that pack does not check.

Each rule reads the property the AWS Config managed rule's page (AWS Config Developer Guide, "<rule name>")
says it evaluates, with the rule's default parameters. Its `requirements` are those whose testing procedure
examines that property; most of these rules evidence none and carry `related` requirements only (pack 1.9.0;
AWS's own mapping, `aws_pci_dss_v4_config_mapping.json`, stands beside each in the crosswalk with the reviewed
reason for every difference, `crosswalk.DEPARTURES`; each related pair's reason is in
`evidence.catalog.RELATED_NOT_EVIDENCE`):

- encryption at rest, related to 3.5.1.2: the store's own encryption (SSE, storage or cluster encryption) is
  storage- or disk-level, the subject of 3.5.1.2, which allows it on non-removable media only where PAN is also
  rendered unreadable by a 3.5.1 mechanism; 3.5.1.2.a examines that other mechanism, which no store setting
  shows (for a card vault, field-level encryption and a keyed hash, PCI4-CARD-DATA-FIELD-ENCRYPTION). The
  customer-managed-key rules are related to 3.6.1 too (the key policy is the owner's, which its key-management
  procedures govern) and are acknowledgeable: their finding names the key a store is encrypted with, never
  "unencrypted" for an encrypted store.
- backups, related to 12.10.1: the incident response plan's "data backup processes" rest on the backups these
  rules require, but 12.10.1.a examines the plan, a document. 3.2.1 is not cited: it keeps account data to a
  minimum with retention limits and disposal, which a minimum backup retention works against.
- 10.4.2 for service logs (APIGateway.9, StepFunctions.1), 8.3.1 and 8.6.3 as this pack's `PCI4-RDS-IAM-AUTH`
  cites for IAM database authentication, and 1.3.2 (outbound traffic from the CDE restricted) for Redshift
  traffic kept inside the VPC, as the egress rules cite it.

The default app of the repository that ships this pack has none of these resource types; the fork app of its
tests (`tests/fork/app.py`) gives every rule something to examine.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from pci_rules.model import Resource, TemplateModel
from pci_rules.rule import Check, rule
from pci_rules.rules._common import SEARCH_DOMAINS, as_list, is_customer_key, is_false, is_true, statements


def _check(resource: Resource, problem: str | None) -> Check:
    return Check(resource, problem is None, problem or "")


def _days(value: Any, default: int) -> int | None:
    """A whole number of days as CloudFormation takes it (int or digit string); None when unreadable."""
    if value is None:
        return default
    text = str(value)
    return int(text) if text.isdigit() else None


def _at_least(resource: Resource, prop: str, minimum: int, default: int) -> str | None:
    days = _days(resource.prop(prop), default)
    if days is not None and days >= minimum:
        return None
    return f"{prop} {resource.prop(prop, default=default)!r} < {minimum}"


# --- Encryption at rest (related: 3.5.1.2) ---------------------------------------------------------------------


@rule(
    id="PCI4-DAX-ENCRYPTED",
    requirements=(),
    related=("3.5.1.2",),
    description="Every DynamoDB Accelerator cluster encrypts its data at rest.",
    fix="Set SSESpecification.SSEEnabled true on the AWS::DAX::Cluster (set at creation).",
    acknowledgeable=False,
)
def dax_encrypted(model: TemplateModel) -> Iterator[Check]:
    # dax-encryption-enabled (AWS Config Developer Guide): NON_COMPLIANT if a DAX cluster is not encrypted.
    for cluster in model.resources("AWS::DAX::Cluster"):
        ok = is_true(cluster.prop("SSESpecification", "SSEEnabled"))
        yield _check(cluster, None if ok else "encryption at rest is off")


@rule(
    id="PCI4-DOCDB-ENCRYPTED",
    requirements=(),
    related=("3.5.1.2",),
    description="Every DocumentDB cluster encrypts its storage.",
    fix="Set StorageEncrypted true (and KmsKeyId to a customer-managed key) on the AWS::DocDB::DBCluster.",
    acknowledgeable=False,
)
def docdb_encrypted(model: TemplateModel) -> Iterator[Check]:
    # docdb-cluster-encrypted: NON_COMPLIANT if storage encryption is not enabled (StorageEncrypted defaults false).
    for cluster in model.resources("AWS::DocDB::DBCluster"):
        yield _check(cluster, None if is_true(cluster.prop("StorageEncrypted")) else "storage is not encrypted")


@rule(
    id="PCI4-DYNAMODB-KMS",
    requirements=(),
    related=("3.5.1.2", "3.6.1"),
    description="Every DynamoDB table is encrypted with a customer-managed KMS key (not the AWS owned or AWS"
    " managed key).",
    fix="Set SSESpecification SSEEnabled true, SSEType KMS and KMSMasterKeyId a customer-managed key (a global"
    " table: each replica's SSESpecification.KMSMasterKeyId; CDK: TableEncryption.CUSTOMER_MANAGED).",
)
def dynamodb_kms(model: TemplateModel) -> Iterator[Check]:
    # dynamodb-table-encrypted-kms: NON_COMPLIANT if the table is not encrypted with AWS KMS;
    # dynamodb-table-encryption-enabled: COMPLIANT if the SSE status is ENABLED or ENABLING, a status only
    # SSE-KMS tables report. SSEEnabled true means KMS; false or absent means the AWS owned key; KMS without
    # KMSMasterKeyId means the AWS managed key alias/aws/dynamodb ("AWS::DynamoDB::Table SSESpecification",
    # CloudFormation Template Reference). The rule asks more than both Config rules: a card-data store's key
    # is one whose key policy and custodians the owner controls (3.6.1, 3.7), as PCI4-SQS-ENCRYPTED and
    # PCI4-REDSHIFT-KMS ask. A global table's key is per replica ("AWS::DynamoDB::GlobalTable
    # ReplicaSSESpecification").
    for table in model.resources("AWS::DynamoDB::Table", "AWS::DynamoDB::GlobalTable"):
        enabled = is_true(table.prop("SSESpecification", "SSEEnabled"))
        kind = str(table.prop("SSESpecification", "SSEType", default="KMS")).upper()
        if table.type == "AWS::DynamoDB::GlobalTable":
            replicas = [r for r in as_list(table.prop("Replicas")) if isinstance(r, dict)]
            keys = [(r.get("SSESpecification") or {}).get("KMSMasterKeyId") for r in replicas] or [None]
        else:
            keys = [table.prop("SSESpecification", "KMSMasterKeyId")]
        ok = enabled and kind == "KMS" and all(is_customer_key(k) for k in keys)
        # A table is always encrypted at rest (the AWS owned key when SSEEnabled is false or absent), so the
        # finding names the key, never "unencrypted".
        held = "the AWS managed key aws/dynamodb" if enabled and kind == "KMS" else "the AWS owned key"
        yield _check(table, None if ok else f"encrypted at rest with {held}, not a customer-managed KMS key")


@rule(
    id="PCI4-KINESIS-ENCRYPTED",
    requirements=(),
    related=("3.5.1.2",),
    description="Every Kinesis data stream encrypts records at rest (server-side encryption with KMS).",
    fix="Set StreamEncryption with EncryptionType KMS (CDK: encryption=StreamEncryption.KMS or MANAGED).",
    acknowledgeable=False,
)
def kinesis_encrypted(model: TemplateModel) -> Iterator[Check]:
    # kinesis-stream-encrypted: NON_COMPLIANT if server-side encryption is not enabled for the stream
    # ("AWS::Kinesis::Stream StreamEncryption", CloudFormation Template Reference: absent, records are not
    # encrypted). Which key is PCI4-KINESIS-CUSTOMER-KEY's (acknowledgeable); a stream not encrypted at all can
    # only be fixed.
    for stream in model.resources("AWS::Kinesis::Stream"):
        encrypted = str(stream.prop("StreamEncryption", "EncryptionType")).upper() == "KMS"
        yield _check(stream, None if encrypted else "not encrypted at rest (no StreamEncryption)")


@rule(
    id="PCI4-KINESIS-CUSTOMER-KEY",
    requirements=(),
    related=("3.5.1.2", "3.6.1"),
    description="Every Kinesis data stream encrypted at rest uses a customer-managed KMS key.",
    fix="Set StreamEncryption.KeyId to a customer-managed key (not alias/aws/kinesis).",
)
def kinesis_customer_key(model: TemplateModel) -> Iterator[Check]:
    # KeyId alias/aws/kinesis is the AWS managed key ("AWS::Kinesis::Stream StreamEncryption", CloudFormation
    # Template Reference). A stream without encryption is PCI4-KINESIS-ENCRYPTED's finding, not examined here.
    for stream in model.resources("AWS::Kinesis::Stream"):
        if str(stream.prop("StreamEncryption", "EncryptionType")).upper() != "KMS":
            continue
        ok = is_customer_key(stream.prop("StreamEncryption", "KeyId"))
        yield _check(
            stream, None if ok else "encrypted at rest with an AWS managed key, not a customer-managed KMS key"
        )


@rule(
    id="PCI4-ELASTICACHE-ENCRYPTED-AT-REST",
    requirements=(),
    related=("3.5.1.2",),
    description="Every ElastiCache replication group encrypts its data at rest (AtRestEncryptionEnabled).",
    fix="Set AtRestEncryptionEnabled true on the AWS::ElastiCache::ReplicationGroup (set at creation only).",
    acknowledgeable=False,
)
def elasticache_encrypted_at_rest(model: TemplateModel) -> Iterator[Check]:
    # elasticache-repl-grp-encrypted-at-rest: NON_COMPLIANT if encryption at rest is not enabled. An undeclared
    # AtRestEncryptionEnabled takes the service's default (CreateReplicationGroup, Amazon ElastiCache API
    # Reference: "Default: true when using Valkey, false when using Redis OSS"; CloudFormation's Engine defaults
    # to redis). It cannot be changed after creation, so a group without it can only be replaced (QSA reader r21e).
    for group in model.resources("AWS::ElastiCache::ReplicationGroup"):
        declared = group.prop("AtRestEncryptionEnabled")
        engine = str(group.prop("Engine", default="redis")).lower()
        if declared is None and engine == "valkey":
            yield Check(group, True, "AtRestEncryptionEnabled not set: ElastiCache encrypts a Valkey group by default")
        elif is_true(declared):
            yield _check(group, None)
        else:
            yield _check(group, f"not encrypted at rest (AtRestEncryptionEnabled {declared!r}, engine {engine})")


@rule(
    id="PCI4-OPENSEARCH-ENCRYPTED-AT-REST",
    requirements=(),
    related=("3.5.1.2",),
    description="Every OpenSearch Service domain (AWS::OpenSearchService::Domain or the older"
    " AWS::Elasticsearch::Domain) encrypts its data at rest (EncryptionAtRestOptions.Enabled).",
    fix="Set EncryptionAtRestOptions.Enabled true (and KmsKeyId to a customer-managed key) on the domain.",
    acknowledgeable=False,
)
def opensearch_encrypted_at_rest(model: TemplateModel) -> Iterator[Check]:
    # opensearch-encrypted-at-rest (AWS::OpenSearchService::Domain) and elasticsearch-encrypted-at-rest
    # (AWS::Elasticsearch::Domain): NON_COMPLIANT if the EncryptionAtRestOptions field is not enabled (AWS Config
    # Developer Guide, each rule's page). No stored AWS page gives a default for an undeclared one, so only Enabled
    # true passes.
    for domain in model.resources(*SEARCH_DOMAINS):
        enabled = domain.prop("EncryptionAtRestOptions", "Enabled")
        yield _check(
            domain, None if is_true(enabled) else f"not encrypted at rest (EncryptionAtRestOptions.Enabled {enabled!r})"
        )


@rule(
    id="PCI4-NEPTUNE-ENCRYPTED",
    requirements=(),
    related=("3.5.1.2",),
    description="Every Neptune cluster encrypts its storage, and so its snapshots.",
    fix="Set StorageEncrypted true (and KmsKeyId to a customer-managed key) on the AWS::Neptune::DBCluster.",
    acknowledgeable=False,
)
def neptune_encrypted(model: TemplateModel) -> Iterator[Check]:
    # neptune-cluster-encrypted: NON_COMPLIANT if the cluster's storage is not encrypted. Snapshots of an
    # encrypted cluster are encrypted with its key ("Encrypting Neptune resources at rest", Neptune User
    # Guide), which is what neptune-cluster-snapshot-encrypted evaluates after deploy.
    for cluster in model.resources("AWS::Neptune::DBCluster"):
        yield _check(cluster, None if is_true(cluster.prop("StorageEncrypted")) else "storage is not encrypted")


@rule(
    id="PCI4-REDSHIFT-ENCRYPTED",
    requirements=(),
    related=("3.5.1.2",),
    description="Every Redshift cluster is encrypted at rest: Encrypted true, or left to Redshift's default for a"
    " new cluster, which encrypts; not Encrypted false, nor a restore whose encryption the template does not show.",
    fix="Set Encrypted true (or leave it unset on a new cluster) on the AWS::Redshift::Cluster; a cluster restored"
    " from a snapshot (SnapshotIdentifier) sets Encrypted true.",
    acknowledgeable=False,
)
def redshift_encrypted(model: TemplateModel) -> Iterator[Check]:
    # redshift-cluster-kms-enabled: NON_COMPLIANT unless the cluster is encrypted with a KMS key. A new
    # provisioned cluster is encrypted when Encrypted is not given: "If true, the data in the cluster is
    # encrypted at rest. If you set the value on this parameter to false, the request will fail. Default: true"
    # (CreateCluster, Amazon Redshift API Reference), and "your database is encrypted by default" ("Amazon
    # Redshift database encryption", Amazon Redshift Management Guide), so that cluster passes and the pass says
    # so. A restore from a snapshot takes the snapshot's state, which the template does not show; Encrypted
    # false fails. Redshift Serverless encrypts every namespace with a KMS key whatever the template says
    # ("Changing the AWS KMS key for a namespace", Amazon Redshift Management Guide), so no rule reads it here.
    # Which key is PCI4-REDSHIFT-KMS's (acknowledgeable).
    for cluster in model.resources("AWS::Redshift::Cluster"):
        encrypted = cluster.prop("Encrypted")
        if is_true(encrypted):
            yield _check(cluster, None)
        elif is_false(encrypted):
            yield _check(cluster, "Encrypted is false (not encrypted at rest; Redshift refuses it for a new cluster)")
        elif cluster.prop("SnapshotIdentifier"):
            yield _check(cluster, "restored from a snapshot without Encrypted true: its encryption is the snapshot's")
        else:
            yield Check(cluster, True, "Encrypted not set: Redshift encrypts a new cluster by default")


def _redshift_encrypted(cluster: Resource) -> bool:
    encrypted = cluster.prop("Encrypted")
    return is_true(encrypted) or (encrypted is None and not cluster.prop("SnapshotIdentifier"))


@rule(
    id="PCI4-REDSHIFT-KMS",
    requirements=(),
    related=("3.5.1.2", "3.6.1"),
    description="Every encrypted Redshift cluster (by Encrypted true or Redshift's default) uses a customer-managed"
    " KMS key.",
    fix="Set KmsKeyId to a customer-managed key on the AWS::Redshift::Cluster.",
)
def redshift_kms(model: TemplateModel) -> Iterator[Check]:
    # Without KmsKeyId an encrypted cluster uses a key AWS holds ("Amazon Redshift database encryption": an
    # AWS-owned key or a customer managed key). A cluster the template does not show encrypted is
    # PCI4-REDSHIFT-ENCRYPTED's finding, not examined here.
    for cluster in model.resources("AWS::Redshift::Cluster"):
        if not _redshift_encrypted(cluster):
            continue
        ok = is_customer_key(cluster.prop("KmsKeyId"))
        yield _check(cluster, None if ok else "encrypted at rest with a key AWS holds, not a customer-managed KMS key")


@rule(
    id="PCI4-ATHENA-RESULTS-ENCRYPTED",
    requirements=(),
    related=("3.5.1.2",),
    description="Every Athena workgroup encrypts its query results at rest.",
    fix="Set WorkGroupConfiguration.ResultConfiguration.EncryptionConfiguration.EncryptionOption (SSE_KMS).",
    acknowledgeable=False,
)
def athena_results_encrypted(model: TemplateModel) -> Iterator[Check]:
    # athena-workgroup-encrypted-at-rest: NON_COMPLIANT if the workgroup's query results are not encrypted.
    for group in model.resources("AWS::Athena::WorkGroup"):
        option = group.prop(
            "WorkGroupConfiguration", "ResultConfiguration", "EncryptionConfiguration", "EncryptionOption"
        )
        yield _check(group, None if option else "query results are not encrypted")


def _sse_sqs(queue: Resource) -> bool:
    """SSE-SQS is on for a queue that sets neither SqsManagedSseEnabled false nor KmsMasterKeyId ("By default
    queues are encrypted using SSE-SQS": "aws-cdk-lib.aws_sqs module", AWS CDK API Reference; "Encryption at rest
    in Amazon SQS", Amazon SQS Developer Guide)."""
    return queue.prop("KmsMasterKeyId") is None and not is_false(queue.prop("SqsManagedSseEnabled"))


@rule(
    id="PCI4-SQS-ENCRYPTED",
    requirements=(),
    related=("3.5.1.2",),
    description="Every SQS queue is encrypted at rest (SSE-SQS or SSE-KMS).",
    fix="Leave SqsManagedSseEnabled on or set KmsMasterKeyId on the AWS::SQS::Queue (CDK: not"
    " QueueEncryption.UNENCRYPTED).",
    acknowledgeable=False,
)
def sqs_encrypted(model: TemplateModel) -> Iterator[Check]:
    # Not in AWS's PCI DSS v4.0 pack (Security Hub FSBP SQS.1 checks the same). Which key is
    # PCI4-SQS-CUSTOMER-KEY's (acknowledgeable); a queue not encrypted at all can only be fixed.
    for queue in model.resources("AWS::SQS::Queue"):
        ok = queue.prop("KmsMasterKeyId") is not None or _sse_sqs(queue)
        yield _check(queue, None if ok else "not encrypted at rest (SqsManagedSseEnabled false, no KmsMasterKeyId)")


@rule(
    id="PCI4-SQS-CUSTOMER-KEY",
    requirements=(),
    related=("3.5.1.2", "3.6.1"),
    description="Every SQS queue is encrypted with a customer-managed KMS key.",
    fix="Set KmsMasterKeyId on the AWS::SQS::Queue (CDK: encryption=QueueEncryption.KMS, encryption_master_key=...).",
)
def sqs_customer_key(model: TemplateModel) -> Iterator[Check]:
    # SSE-SQS uses keys SQS owns, which no key policy of the account controls; KmsMasterKeyId names a KMS key
    # ("AWS::SQS::Queue", CloudFormation Template Reference), as PCI4-SNS-ENCRYPTED asks of topics. An
    # unencrypted queue is PCI4-SQS-ENCRYPTED's finding, not examined here.
    for queue in model.resources("AWS::SQS::Queue"):
        key = queue.prop("KmsMasterKeyId")
        if key is None and not _sse_sqs(queue):
            continue
        if is_customer_key(key):
            problem = None
        elif key is None:
            problem = "encrypted at rest with SQS owned keys (SSE-SQS), not a customer-managed KMS key"
        else:
            problem = "encrypted at rest with the AWS managed key aws/sqs, not a customer-managed KMS key"
        yield _check(queue, problem)


@rule(
    id="PCI4-EFS-ENCRYPTED",
    requirements=(),
    related=("3.5.1.2",),
    description="Every EFS file system encrypts its data at rest.",
    fix="Set Encrypted true (and KmsKeyId to a customer-managed key) on the AWS::EFS::FileSystem.",
    acknowledgeable=False,
)
def efs_encrypted(model: TemplateModel) -> Iterator[Check]:
    # Not in AWS's PCI DSS v4.0 pack (efs-encrypted-check watches it after deploy). Encrypted is set at
    # creation ("AWS::EFS::FileSystem", CloudFormation Template Reference).
    for system in model.resources("AWS::EFS::FileSystem"):
        yield _check(system, None if is_true(system.prop("Encrypted")) else "not encrypted at rest")


# --- Backups (related: 12.10.1) --------------------------------------------------------------------------------


@rule(
    id="PCI4-DYNAMODB-PITR",
    requirements=(),
    related=("12.10.1",),
    description="Every DynamoDB table has point-in-time recovery on.",
    fix="Set PointInTimeRecoverySpecification.PointInTimeRecoveryEnabled true on the table.",
)
def dynamodb_pitr(model: TemplateModel) -> Iterator[Check]:
    # dynamodb-pitr-enabled: NON_COMPLIANT if PITR is not enabled for the table. A global table sets it per
    # replica (Replicas[].PointInTimeRecoverySpecification, "AWS::DynamoDB::GlobalTable"); each replica is a
    # table the Config rule evaluates, so every replica must have it.
    for table in model.resources("AWS::DynamoDB::Table"):
        ok = is_true(table.prop("PointInTimeRecoverySpecification", "PointInTimeRecoveryEnabled"))
        yield _check(table, None if ok else "point-in-time recovery is off")
    for table in model.resources("AWS::DynamoDB::GlobalTable"):
        replicas = [r for r in as_list(table.prop("Replicas")) if isinstance(r, dict)]
        off = [
            str(r.get("Region"))
            for r in replicas
            if not is_true((r.get("PointInTimeRecoverySpecification") or {}).get("PointInTimeRecoveryEnabled"))
        ]
        problem = f"point-in-time recovery is off in {', '.join(off)}" if off else None
        yield _check(table, problem if replicas else "no replica with point-in-time recovery")


# elasticache-redis-cluster-automatic-backup-check's snapshotRetentionPeriod default.
ELASTICACHE_MIN_SNAPSHOT_DAYS = 15


@rule(
    id="PCI4-ELASTICACHE-BACKUPS",
    requirements=(),
    related=("12.10.1",),
    description="Every Redis OSS/Valkey cache keeps automatic backups at least 15 days.",
    fix="Set SnapshotRetentionLimit to 15 or more on the cache cluster or replication group.",
)
def elasticache_backups(model: TemplateModel) -> Iterator[Check]:
    # elasticache-redis-cluster-automatic-backup-check: NON_COMPLIANT if SnapshotRetentionLimit is less than
    # snapshotRetentionPeriod (default 15). Memcached keeps no backups; the limit defaults to 0 (off).
    for cache in model.resources("AWS::ElastiCache::CacheCluster", "AWS::ElastiCache::ReplicationGroup"):
        default_engine = "redis" if cache.type == "AWS::ElastiCache::ReplicationGroup" else ""
        if str(cache.prop("Engine", default=default_engine)).lower() in ("redis", "valkey"):
            yield _check(cache, _at_least(cache, "SnapshotRetentionLimit", ELASTICACHE_MIN_SNAPSHOT_DAYS, 0))


# neptune-cluster-backup-retention-check's minimumBackupRetentionPeriod default.
NEPTUNE_MIN_BACKUP_DAYS = 7


@rule(
    id="PCI4-NEPTUNE-BACKUP-RETENTION",
    requirements=(),
    related=("12.10.1",),
    description="Every Neptune cluster keeps automated backups at least 7 days.",
    fix="Set BackupRetentionPeriod to 7 or more on the AWS::Neptune::DBCluster.",
)
def neptune_backup_retention(model: TemplateModel) -> Iterator[Check]:
    # neptune-cluster-backup-retention-check: NON_COMPLIANT if the retention is under the parameter (default 7);
    # BackupRetentionPeriod defaults to 1.
    for cluster in model.resources("AWS::Neptune::DBCluster"):
        yield _check(cluster, _at_least(cluster, "BackupRetentionPeriod", NEPTUNE_MIN_BACKUP_DAYS, 1))


@rule(
    id="PCI4-REDSHIFT-BACKUPS",
    requirements=(),
    related=("12.10.1",),
    description="Every Redshift cluster keeps automated snapshots (retention of 1 to 35 days, not 0).",
    fix="Leave AutomatedSnapshotRetentionPeriod unset (1) or set it between 1 and 35.",
)
def redshift_backups(model: TemplateModel) -> Iterator[Check]:
    # redshift-backup-enabled: NON_COMPLIANT if automatedSnapshotRetentionPeriod is 0 or outside
    # MinRetentionPeriod (minimum 1) and MaxRetentionPeriod (maximum 35); the property defaults to 1.
    for cluster in model.resources("AWS::Redshift::Cluster"):
        days = _days(cluster.prop("AutomatedSnapshotRetentionPeriod"), 1)
        ok = days is not None and 1 <= days <= 35
        yield _check(cluster, None if ok else "automated snapshots are off")


BACKUP_DELETION_ACTIONS = (
    "backup:DeleteRecoveryPoint",
    "backup:UpdateRecoveryPointLifecycle",
    "backup:PutBackupVaultAccessPolicy",
)


# The one Condition a deletion Deny may carry: exempting named principals (the Config rule's principalArnList),
# `aws:PrincipalArn` under a negated ARN or string operator, so the Deny still applies to every other caller.
# Any other condition narrows the Deny to the callers it matches ("IAM JSON policy elements: Condition
# operators", IAM User Guide): `StringEquals aws:PrincipalArn <one role>` denies that role only.
BACKUP_EXEMPT_OPERATORS = frozenset({"ArnNotEquals", "ArnNotLike", "StringNotEquals", "StringNotLike"})
BACKUP_EXEMPT_KEY = "aws:principalarn"


def _exempts_principals_only(condition: Any) -> bool:
    if condition is None:
        return True
    if not isinstance(condition, dict) or not condition:
        return False
    return all(
        operator in BACKUP_EXEMPT_OPERATORS
        and isinstance(keys, dict)
        and all(str(key).lower() == BACKUP_EXEMPT_KEY for key in keys)
        for operator, keys in condition.items()
    )


def _denies_deletion(statement: Any) -> bool:
    principal = statement.get("Principal")
    anyone = principal == "*" or (isinstance(principal, dict) and "*" in as_list(principal.get("AWS")))
    actions = {str(a) for a in as_list(statement.get("Action"))}
    return (
        statement.get("Effect") == "Deny"
        and anyone
        and "*" in as_list(statement.get("Resource"))
        and (actions >= set(BACKUP_DELETION_ACTIONS) or "backup:*" in actions or "*" in actions)
        and _exempts_principals_only(statement.get("Condition"))
    )


@rule(
    id="PCI4-BACKUP-VAULT-NO-MANUAL-DELETION",
    requirements=(),
    related=("12.10.1",),
    description="Every AWS Backup vault's access policy denies deleting recovery points to everyone.",
    fix=(
        "Give the AWS::Backup::BackupVault an AccessPolicy Deny statement, Principal and Resource '*', on"
        " backup:DeleteRecoveryPoint, backup:UpdateRecoveryPointLifecycle and backup:PutBackupVaultAccessPolicy,"
        " with no Condition but an exemption of named principals (ArnNotEquals/ArnNotLike/StringNotEquals/"
        "StringNotLike on aws:PrincipalArn)."
    ),
)
def backup_vault_no_manual_deletion(model: TemplateModel) -> Iterator[Check]:
    # backup-recovery-point-manual-deletion-disabled: NON_COMPLIANT without a Deny statement on those three
    # actions whose Principal and Resource are wildcards (the rule's note); principalArnList defaults to none.
    for vault in model.resources("AWS::Backup::BackupVault"):
        ok = any(_denies_deletion(s) for s in statements(vault.prop("AccessPolicy")))
        yield _check(vault, None if ok else "no access-policy statement denies deleting recovery points")


# --- Network, authentication, logging -----------------------------------------------------------------


@rule(
    id="PCI4-REDSHIFT-ENHANCED-VPC-ROUTING",
    requirements=("1.3.2",),
    description="Every Redshift cluster routes COPY and UNLOAD traffic through its VPC (enhanced VPC routing).",
    fix="Set EnhancedVpcRouting true on the AWS::Redshift::Cluster.",
)
def redshift_enhanced_vpc_routing(model: TemplateModel) -> Iterator[Check]:
    # redshift-enhanced-vpc-routing-enabled: NON_COMPLIANT if enhancedVpcRouting is not enabled (default false).
    # With it on, COPY and UNLOAD traffic passes the VPC's security groups, NACLs and endpoint policies ("Enhanced
    # VPC routing in Amazon Redshift", Amazon Redshift Management Guide): outbound traffic the VPC restricts.
    for cluster in model.resources("AWS::Redshift::Cluster"):
        ok = is_true(cluster.prop("EnhancedVpcRouting"))
        yield _check(cluster, None if ok else "enhanced VPC routing is off")


@rule(
    id="PCI4-NEPTUNE-IAM-AUTH",
    requirements=("8.3.1", "8.6.3"),
    description="Every Neptune cluster authenticates database connections with IAM.",
    fix="Set IamAuthEnabled true on the AWS::Neptune::DBCluster.",
)
def neptune_iam_auth(model: TemplateModel) -> Iterator[Check]:
    # neptune-cluster-iam-database-authentication: NON_COMPLIANT if IAM database authentication is off.
    for cluster in model.resources("AWS::Neptune::DBCluster"):
        ok = is_true(cluster.prop("IamAuthEnabled"))
        yield _check(cluster, None if ok else "IAM database authentication is off")


# Subscription protocols whose delivery status SNS logs ("Amazon SNS message delivery status", Amazon SNS
# Developer Guide: HTTP/S, Amazon SQS, AWS Lambda, Amazon Data Firehose, platform application endpoints).
SNS_LOGGED_PROTOCOLS = frozenset({"http", "https", "sqs", "lambda", "firehose", "application"})


def _subscription_protocols(model: TemplateModel, topic: Resource) -> set[str]:
    inline = {str(s.get("Protocol")).lower() for s in as_list(topic.prop("Subscription")) if isinstance(s, dict)}
    attached = {
        str(s.prop("Protocol")).lower()
        for s in model.referrers(topic, "AWS::SNS::Subscription")
        if s.prop("Protocol") is not None
    }
    return (inline | attached) & SNS_LOGGED_PROTOCOLS


def _logged_protocols(topic: Resource) -> set[str]:
    logged = set()
    for config in as_list(topic.prop("DeliveryStatusLogging")):
        if isinstance(config, dict) and config.get("FailureFeedbackRoleArn"):
            protocol = str(config.get("Protocol")).lower()
            logged |= {"http", "https"} if protocol == "http/s" else {protocol}
    return logged


@rule(
    id="PCI4-SNS-DELIVERY-STATUS-LOGGING",
    requirements=("10.4.2",),
    description="An SNS topic with HTTP/S, SQS, Lambda, Firehose or application subscribers logs delivery status.",
    fix="Add DeliveryStatusLogging (Protocol and FailureFeedbackRoleArn) for each subscribed protocol.",
)
def sns_delivery_status_logging(model: TemplateModel) -> Iterator[Check]:
    # sns-topic-message-delivery-notification-enabled: NON_COMPLIANT if delivery status logging is not enabled.
    # SNS logs delivery status for these protocols only, so a topic with only e-mail or SMS subscribers is
    # not examined here (the Config rule still evaluates it after deploy).
    for topic in model.resources("AWS::SNS::Topic"):
        subscribed = _subscription_protocols(model, topic)
        if subscribed:
            missing = sorted(subscribed - _logged_protocols(topic))
            yield _check(topic, f"delivery status of {', '.join(missing)} is not logged" if missing else None)
