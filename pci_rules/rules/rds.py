"""Cardholder-data stores in RDS (PCI DSS v4.0.1 3.5.1, 4.2.1, 1.4.4, 8.3)."""

import json
import re
from collections.abc import Iterator
from typing import Any

from pci_rules.model import Resource, TemplateModel
from pci_rules.rule import Check, rule
from pci_rules.rules._common import flatten, is_customer_key, is_false, is_true

DATABASES = ("AWS::RDS::DBInstance", "AWS::RDS::DBCluster")
# Parameters that refuse unencrypted client connections ("Using SSL/TLS to encrypt a connection to
# a DB instance or cluster", Amazon RDS User Guide): PostgreSQL and SQL Server, MySQL and MariaDB.
FORCE_TLS = {"rds.force_ssl": {"1", "true", "on"}, "require_secure_transport": {"1", "on", "true"}}


def _standalone(db: Resource) -> bool:
    """An instance that is a member of an Aurora cluster takes these settings from the cluster."""
    return db.type == "AWS::RDS::DBCluster" or not db.prop("DBClusterIdentifier")


def _databases(model: TemplateModel) -> Iterator[Resource]:
    return (db for db in model.resources(*DATABASES) if _standalone(db))


# What makes a database take its storage encryption from a source instead of its own StorageEncrypted
# (AWS::RDS::DBInstance and AWS::RDS::DBCluster, CloudFormation Template Reference; CreateDBInstanceReadReplica,
# RestoreDBInstanceToPointInTime, RestoreDBClusterToPointInTime and CreateDBCluster KmsKeyId, Amazon RDS API
# Reference): a snapshot restore, a read replica ("a read replica in the same Amazon Web Services Region is always
# encrypted with the same KMS key as the source"; "you can't create an encrypted read replica from an unencrypted
# DB instance or Multi-AZ DB cluster"), a point-in-time restore (from a source instance, its automated backups or
# its resource ID), and a cluster replicating another (ReplicationSourceIdentifier: "If ReplicationSourceIdentifier
# identifies an encrypted source, then Amazon RDS uses the KMS key used to encrypt the source").
INHERITED_FROM: dict[str, tuple[str, ...]] = {
    "AWS::RDS::DBInstance": (
        "DBSnapshotIdentifier",
        "DBClusterSnapshotIdentifier",
        "SourceDBInstanceIdentifier",
        "SourceDBClusterIdentifier",
        "SourceDBInstanceAutomatedBackupsArn",
        "SourceDbiResourceId",
    ),
    "AWS::RDS::DBCluster": (
        "SnapshotIdentifier",
        "SourceDBClusterIdentifier",
        "ReplicationSourceIdentifier",
        "SourceDbClusterResourceId",
    ),
}
SNAPSHOTS = ("DBSnapshotIdentifier", "DBClusterSnapshotIdentifier", "SnapshotIdentifier")


def _inherits(db: Resource) -> tuple[str, Any] | None:
    """(property, value) that makes `db` take its storage encryption from a source, else None."""
    for name in INHERITED_FROM.get(db.type, ()):
        value = db.reference(name)
        if value not in (None, ""):
            return name, value
    return None


def _cluster_sets_its_own(db: Resource) -> bool:
    """A cluster restored from a snapshot with StorageEncrypted true and a KmsKeyId is encrypted with that key
    whatever the snapshot ("AWS::RDS::DBCluster" StorageEncrypted: for an unencrypted snapshot "you can use this
    property to specify that the restored DB cluster is encrypted. Specify the KmsKeyId property for the KMS key
    to use"; without KmsKeyId "the restored DB cluster inherits the encryption settings from the DB snapshot")."""
    inherited = _inherits(db)
    return (
        db.type == "AWS::RDS::DBCluster"
        and inherited is not None
        and inherited[0] == "SnapshotIdentifier"
        and is_true(db.prop("StorageEncrypted"))
        and bool(db.prop("KmsKeyId"))
    )


def _source(model: TemplateModel, db: Resource) -> Resource | None:
    """The database in these templates `db` replicates or restores from (a Ref, GetAtt, an ARN joined from one,
    or an import), else None: a snapshot is never a resource of the templates."""
    inherited = _inherits(db)
    if inherited is None or inherited[0] in SNAPSHOTS:
        return None
    found = [r for r in model.references(db.stack, inherited[1]) if r.type in DATABASES]
    return found[0] if found else None


def _encrypted_by_templates(
    model: TemplateModel, db: Resource, seen: frozenset[tuple[str, str]] = frozenset()
) -> bool | None:
    """True or False where the templates decide `db`'s storage encryption, None where a source outside them
    (a snapshot, a database of another app or account) does."""
    if db.key in seen:
        return None
    if _inherits(db) is None or _cluster_sets_its_own(db):
        return is_true(db.prop("StorageEncrypted"))
    source = _source(model, db)
    return None if source is None else _encrypted_by_templates(model, source, seen | {db.key})


def _inheritance_detail(model: TemplateModel, db: Resource) -> str:
    inherited = _inherits(db)
    assert inherited is not None
    name, value = inherited
    if name in SNAPSHOTS:
        return f"restored from a snapshot ({name} {flatten(value)!r})"
    source = _source(model, db)
    if source is None:
        return f"a replica or restore of {flatten(value)!r} ({name}), a source outside these templates"
    return f"a copy of {source.path} ({name})"


@rule(
    id="PCI4-RDS-STORAGE-ENCRYPTED",
    # Related to 3.5.1.2, not evidence: RDS storage encryption is disk-level encryption, the subject of 3.5.1.2: on
    # non-removable
    # media PAN must also be rendered unreadable by a 3.5.1 mechanism (the vault's field-level
    # encryption), so this is not 3.5.1 itself.
    requirements=(),
    related=("3.5.1.2",),
    description="Every RDS instance and cluster whose storage encryption the templates decide encrypts it"
    " (StorageEncrypted true, or a copy of an encrypted database in the templates).",
    fix="Set StorageEncrypted: true (CDK: storage_encrypted=True); an existing database needs a snapshot restore."
    " A replica or restore of a database in the templates is encrypted only if that database is."
    " A cluster restored from a snapshot sets StorageEncrypted true and KmsKeyId (CDK: storage_encryption_key=...).",
    acknowledgeable=False,
)
def rds_storage_encrypted(model: TemplateModel) -> Iterator[Check]:
    """One check per stand-alone instance and per cluster (`_databases`) whose encryption the templates decide;
    never acknowledgeable.

    A database created empty passes only with StorageEncrypted true ("By default, it isn't encrypted",
    AWS::RDS::DBInstance StorageEncrypted, CloudFormation Template Reference). A copy (read replica,
    point-in-time restore, replicating cluster) of a database in the same templates has that database's
    encryption (see `INHERITED_FROM`), so it passes or fails with it. A cluster restored from a snapshot with
    StorageEncrypted true and KmsKeyId is encrypted whatever the snapshot (`_cluster_sets_its_own`). Every
    other restore or replica takes its encryption from outside the templates and is PCI4-RDS-INHERITED-ENCRYPTION's
    (acknowledgeable once its owner has verified the source), not this rule's: QSA reader r21f found that a fork
    restoring a database could not pass the gate at all while this never-acknowledgeable rule judged them.

    After deploy the Config rule rds-storage-encrypted reads the database's actual encryption.
    """
    for db in _databases(model):
        encrypted = _encrypted_by_templates(model, db)
        if encrypted is None:
            continue
        if _inherits(db) is None:
            declared = db.prop("StorageEncrypted")
            yield Check(db, encrypted, "" if encrypted else f"StorageEncrypted is {declared!r}, not true")
        elif _cluster_sets_its_own(db):
            detail = (
                "restored from a snapshot (SnapshotIdentifier) with StorageEncrypted true and KmsKeyId: encrypted"
                " with that key whatever the snapshot"
            )
            yield Check(db, True, detail)
        else:
            state = "encrypted: so is the copy" if encrypted else "not encrypted: nor is the copy"
            yield Check(db, encrypted, f"{_inheritance_detail(model, db)}, whose storage is {state}")


@rule(
    id="PCI4-RDS-INHERITED-ENCRYPTION",
    requirements=(),
    related=("3.5.1.2",),
    description="Every RDS database restored from a snapshot or copied from a database outside the templates has"
    " its source's storage encryption verified by its owner (the templates cannot show it).",
    fix="Verify the source is encrypted (DescribeDBSnapshots / DescribeDBClusterSnapshots / DescribeDBInstances:"
    " Encrypted or StorageEncrypted true, with the KmsKeyId you expect) and acknowledge this finding on the"
    " database with that record; or restore a cluster with StorageEncrypted true and KmsKeyId, or copy a database"
    " of these templates. Config rds-storage-encrypted watches it after deploy.",
)
def rds_inherited_encryption(model: TemplateModel) -> Iterator[Check]:
    """One check per stand-alone instance and cluster that takes its storage encryption from a source
    (`INHERITED_FROM`): passes where the templates decide it (PCI4-RDS-STORAGE-ENCRYPTED then judges it), fails
    (acknowledgeable) where the source is outside them: an instance restored from a snapshot "inherits" the
    snapshot's encryption whatever it declares ("If you specify DBSnapshotIdentifier property, don't specify this
    property. The value is inherited from the snapshot", AWS::RDS::DBInstance StorageEncrypted)."""
    for db in _databases(model):
        if _inherits(db) is None:
            continue
        decided = _encrypted_by_templates(model, db) is not None
        where = _inheritance_detail(model, db)
        if decided:
            yield Check(db, True, f"{where}: the templates decide its encryption (PCI4-RDS-STORAGE-ENCRYPTED)")
            continue
        detail = f"{where}: its storage encryption is its source's, which these templates do not show"
        if db.type == "AWS::RDS::DBCluster" and where.startswith("restored from a snapshot"):
            detail += "; set StorageEncrypted true and KmsKeyId to encrypt the restored cluster"
        yield Check(db, False, detail)


@rule(
    id="PCI4-RDS-CUSTOMER-KEY",
    # 3.6.1 and 3.5.1 are related, not evidence (pack 1.9.0): a customer-managed key puts the key policy in the
    # owner's hands, which 3.6.1's key-management procedures then govern; the key choice renders no PAN unreadable.
    requirements=(),
    related=("3.6.1", "3.5.1"),
    description="Every RDS instance and cluster encrypts with a customer-managed KMS key, not the AWS managed aws/rds.",
    fix="Set KmsKeyId to a customer-managed key (CDK: storage_encryption_key=...).",
)
def rds_customer_key(model: TemplateModel) -> Iterator[Check]:
    for db in _databases(model):
        ok = is_customer_key(db.prop("KmsKeyId"))
        yield Check(db, ok, "" if ok else "no customer-managed KmsKeyId")


@rule(
    id="PCI4-RDS-NOT-PUBLIC",
    requirements=("1.3.1", "1.4.4"),
    description="No RDS instance is publicly accessible.",
    fix="Set PubliclyAccessible: false and place the database in isolated (CDE) subnets.",
)
def rds_not_public(model: TemplateModel) -> Iterator[Check]:
    for db in model.resources("AWS::RDS::DBInstance"):
        public = is_true(db.prop("PubliclyAccessible"))
        yield Check(db, not public, "PubliclyAccessible is true" if public else "")


@rule(
    id="PCI4-RDS-DELETION-PROTECTION",
    requirements=(),
    related=("3.5.1", "10.5.1"),
    description="Every RDS instance and cluster has deletion protection.",
    fix="Set DeletionProtection: true (CDK: deletion_protection=True).",
)
def rds_deletion_protection(model: TemplateModel) -> Iterator[Check]:
    for db in _databases(model):
        protected = is_true(db.prop("DeletionProtection"))
        yield Check(db, protected, "" if protected else "DeletionProtection is not true")


@rule(
    id="PCI4-RDS-TLS-FORCED",
    requirements=(),
    related=("4.2.1",),  # internal transit, not open public networks (evidence.catalog INTERNAL_TRANSIT)
    description="Every RDS database's parameter group refuses connections without TLS.",
    fix="Use a parameter group with rds.force_ssl=1 (PostgreSQL, SQL Server) or require_secure_transport=ON (MySQL).",
)
def rds_tls_forced(model: TemplateModel) -> Iterator[Check]:
    for db in _databases(model):
        name = "DBClusterParameterGroupName" if db.type == "AWS::RDS::DBCluster" else "DBParameterGroupName"
        group = model.target(db.stack, db.prop(name))
        forced = group is not None and any(
            str((group.prop("Parameters") or {}).get(param, "")).lower() in values
            for param, values in FORCE_TLS.items()
        )
        yield Check(db, forced, "" if forced else "no parameter group of these templates forces TLS")


@rule(
    id="PCI4-RDS-LOG-EXPORTS",
    requirements=("10.2.1", "10.4.2"),
    description="Every RDS database exports its engine logs to CloudWatch Logs.",
    fix="Set EnableCloudwatchLogsExports (CDK: cloudwatch_logs_exports=[...]).",
)
def rds_log_exports(model: TemplateModel) -> Iterator[Check]:
    for db in _databases(model):
        exported = bool(db.prop("EnableCloudwatchLogsExports"))
        yield Check(db, exported, "" if exported else "no EnableCloudwatchLogsExports")


@rule(
    id="PCI4-RDS-BACKUPS",
    # Related to 12.10.1, not evidence (12.10.1.a examines the plan, a document): the incident response plan's data
    # backup and recovery procedures rest on the automated backups;
    # a backup's retention renders nothing unreadable, so 3.5.1 (cited before pack 1.8.0) is not.
    requirements=(),
    related=("12.10.1",),
    description="Every RDS database keeps automated backups at least 7 days.",
    fix="Set BackupRetentionPeriod to 7 or more (CDK: backup_retention=Duration.days(7)).",
)
def rds_backups(model: TemplateModel) -> Iterator[Check]:
    for db in _databases(model):
        days = db.prop("BackupRetentionPeriod", default=1)
        ok = (isinstance(days, int) and days >= 7) or (isinstance(days, str) and days.isdigit() and int(days) >= 7)
        yield Check(db, ok, "" if ok else f"BackupRetentionPeriod is {days}")


@rule(
    id="PCI4-RDS-PROXY-TLS",
    requirements=(),
    related=("4.2.1",),  # internal transit, not open public networks (evidence.catalog INTERNAL_TRANSIT)
    description="Every RDS Proxy requires TLS from its clients.",
    fix="Set RequireTLS: true on the AWS::RDS::DBProxy (CDK: require_tls=True).",
)
def rds_proxy_tls(model: TemplateModel) -> Iterator[Check]:
    for proxy in model.resources("AWS::RDS::DBProxy"):
        required = is_true(proxy.prop("RequireTLS"))
        yield Check(proxy, required, "" if required else "RequireTLS is not true")


@rule(
    id="PCI4-RDS-MINOR-UPGRADES",
    requirements=("6.3.3",),
    description="Every RDS DB instance and DB cluster takes minor engine versions (security patches) automatically.",
    fix="Leave AutoMinorVersionUpgrade on (it defaults to true) on the DB instance and the DB cluster.",
)
def rds_minor_upgrades(model: TemplateModel) -> Iterator[Check]:
    # Security Hub RDS.35 checks AWS::RDS::DBCluster's AutoMinorVersionUpgrade, RDS.13 the instance's.
    for db in model.resources("AWS::RDS::DBInstance", "AWS::RDS::DBCluster"):
        off = is_false(db.prop("AutoMinorVersionUpgrade"))
        yield Check(db, not off, "AutoMinorVersionUpgrade is false" if off else "")


# Engines that support IAM database authentication ("IAM database authentication", Amazon RDS User
# Guide): MySQL, MariaDB and PostgreSQL, Aurora included. Others (Oracle, SQL Server, Db2) have none.
IAM_AUTH_ENGINES = ("mysql", "mariadb", "postgres", "aurora")


@rule(
    id="PCI4-RDS-IAM-AUTH",
    requirements=("8.3.1", "8.6.3"),
    description="Every RDS MySQL, MariaDB or PostgreSQL database (Aurora too) has IAM database authentication on.",
    fix="Set EnableIAMDatabaseAuthentication: true (CDK: iam_authentication=True).",
)
def rds_iam_auth(model: TemplateModel) -> Iterator[Check]:
    for db in _databases(model):
        if not str(db.prop("Engine", default="")).lower().startswith(IAM_AUTH_ENGINES):
            continue
        on = is_true(db.prop("EnableIAMDatabaseAuthentication"))
        yield Check(db, on, "" if on else "EnableIAMDatabaseAuthentication is not true")


@rule(
    id="PCI4-RDS-PROXY-IAM",
    requirements=("8.3.1", "8.6.2"),
    description="Every RDS Proxy requires IAM authentication from its clients (no database passwords in applications).",
    fix="Set DefaultAuthScheme: IAM_AUTH on the AWS::RDS::DBProxy, or IAMAuth: REQUIRED on every Auth entry.",
)
def rds_proxy_iam(model: TemplateModel) -> Iterator[Check]:
    for proxy in model.resources("AWS::RDS::DBProxy"):
        auth = [a for a in (proxy.prop("Auth") or []) if isinstance(a, dict)]
        required = proxy.prop("DefaultAuthScheme") == "IAM_AUTH" or (
            bool(auth) and all(a.get("IAMAuth") == "REQUIRED" for a in auth)
        )
        yield Check(proxy, required, "" if required else "clients may connect without IAM authentication")


# Master user names an attacker tries first (RDS.25 checks "admin"; engine defaults added).
DEFAULT_MASTER_USERNAMES = frozenset({"admin", "postgres", "root", "sa", "master", "administrator", "mysql"})
_RESOLVE = re.compile(r"\{\{resolve:secretsmanager:(.+?):SecretString:username")


def _master_username(model: TemplateModel, db: Resource) -> str | None:
    """The literal master user name, read through a `{{resolve:secretsmanager:...}}` of a secret
    these templates generate; None when it is not known until deploy."""
    value = db.reference("MasterUsername")
    if isinstance(value, str) and "{{resolve" not in value:
        return value
    text = flatten(value)
    match = _RESOLVE.search(text)
    if match is None:
        return None
    secret_id = match.group(1).strip("<>")
    secret = model.resource(db.stack, secret_id)
    template = None if secret is None else secret.prop("GenerateSecretString", "SecretStringTemplate")
    try:
        username = json.loads(template).get("username") if isinstance(template, str) else None
    except ValueError:
        return None
    return username if isinstance(username, str) else None


@rule(
    id="PCI4-RDS-CUSTOM-MASTER-USERNAME",
    requirements=("2.2.2",),
    description="No RDS database keeps a default master user name (admin, postgres, root, sa...).",
    fix="Set MasterUsername to a name of your own (CDK: Credentials.from_generated_secret('cde_admin')).",
)
def rds_custom_master_username(model: TemplateModel) -> Iterator[Check]:
    for db in _databases(model):
        if db.prop("DBSnapshotIdentifier") or db.prop("SourceDBInstanceIdentifier") or db.prop("SnapshotIdentifier"):
            continue  # restored or replicated: the user name comes from the source
        username = _master_username(model, db)
        if username is None:
            yield Check(db, False, "the master user name is not known from these templates")
        else:
            default = username.lower() in DEFAULT_MASTER_USERNAMES
            yield Check(db, not default, f"default master user name {username!r}" if default else "")
