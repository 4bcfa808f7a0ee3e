"""A compliant and a non-compliant template for each rule of `pci_rules/rules/data_stores.py`.

As for the workload rules, the compliant case is the fork app's own resource (`tests.fork.app.WORKLOAD`), so
the app the vacuity test gates and the case that proves the rule passes are one; the non-compliant case
changes the one property the rule is about.
"""

from __future__ import annotations

import copy
from typing import Any

from tests.fork.app import WORKLOAD
from tests.pci_rule_cases_workloads import Resources, bad, good


def _vault_denying(*actions: str, principal: Any = None) -> Resources:
    policy = copy.deepcopy(WORKLOAD["Vault"][1]["AccessPolicy"])
    statement = policy["Statement"][0]
    statement["Action"] = list(actions)
    if principal is not None:
        statement["Principal"] = principal
    return bad("Vault", AccessPolicy=policy)


_DELETION = ("backup:DeleteRecoveryPoint", "backup:UpdateRecoveryPointLifecycle", "backup:PutBackupVaultAccessPolicy")
_TOPIC = ("Settlements", "SettlementsPolicy", "SettlementsQueue", "Queue")

DATA_STORE_CASES: dict[str, tuple[Resources, Resources]] = {
    "PCI4-DAX-ENCRYPTED": (good("Dax"), bad("Dax", SSESpecification={"SSEEnabled": False})),
    "PCI4-DOCDB-ENCRYPTED": (good("Documents"), bad("Documents", StorageEncrypted=None, KmsKeyId=None)),
    "PCI4-DYNAMODB-KMS": (good("Table"), bad("Table", SSESpecification={"SSEEnabled": False})),
    "PCI4-KINESIS-ENCRYPTED": (good("Stream"), bad("Stream", StreamEncryption=None)),
    "PCI4-KINESIS-CUSTOMER-KEY": (
        good("Stream"),
        bad("Stream", StreamEncryption={"EncryptionType": "KMS", "KeyId": "alias/aws/kinesis"}),
    ),
    "PCI4-NEPTUNE-ENCRYPTED": (good("Graph"), bad("Graph", StorageEncrypted=False, KmsKeyId=None)),
    # QSA reader r21e MEDIUM 4: a Redis OSS group without AtRestEncryptionEnabled (its default is false).
    "PCI4-ELASTICACHE-ENCRYPTED-AT-REST": (good("Cache"), bad("Cache", Engine="redis", AtRestEncryptionEnabled=None)),
    # Both CloudFormation types (pack 1.14.0); tests/test_pci_rules_r21e.py fails the OpenSearch one.
    "PCI4-OPENSEARCH-ENCRYPTED-AT-REST": (
        good("Elasticsearch", "Search"),
        bad("Elasticsearch", EncryptionAtRestOptions={"Enabled": False}),
    ),
    "PCI4-REDSHIFT-ENCRYPTED": (good("Warehouse"), bad("Warehouse", Encrypted=False, KmsKeyId=None)),
    # Not declared at all: Redshift's default for a new cluster encrypts, so the finding is the key's.
    "PCI4-REDSHIFT-KMS": (good("Warehouse"), bad("Warehouse", Encrypted=None, KmsKeyId=None)),
    "PCI4-ATHENA-RESULTS-ENCRYPTED": (
        good("Queries"),
        bad("Queries", WorkGroupConfiguration={"ResultConfiguration": {"OutputLocation": "s3://fork-athena-results/"}}),
    ),
    "PCI4-SQS-ENCRYPTED": (good("Queue"), bad("Queue", KmsMasterKeyId=None, SqsManagedSseEnabled=False)),
    "PCI4-SQS-CUSTOMER-KEY": (good("Queue"), bad("Queue", KmsMasterKeyId=None, SqsManagedSseEnabled=True)),
    "PCI4-EFS-ENCRYPTED": (good("Files"), bad("Files", Encrypted=False, KmsKeyId=None)),
    "PCI4-DYNAMODB-PITR": (good("Table"), bad("Table", PointInTimeRecoverySpecification=None)),
    "PCI4-ELASTICACHE-BACKUPS": (good("Cache"), bad("Cache", SnapshotRetentionLimit=14)),
    "PCI4-NEPTUNE-BACKUP-RETENTION": (good("Graph"), bad("Graph", BackupRetentionPeriod=None)),
    "PCI4-REDSHIFT-BACKUPS": (good("Warehouse"), bad("Warehouse", AutomatedSnapshotRetentionPeriod=0)),
    "PCI4-BACKUP-VAULT-NO-MANUAL-DELETION": (good("Vault"), _vault_denying(*_DELETION[:2])),
    "PCI4-REDSHIFT-ENHANCED-VPC-ROUTING": (good("Warehouse"), bad("Warehouse", EnhancedVpcRouting=None)),
    "PCI4-NEPTUNE-IAM-AUTH": (good("Graph"), bad("Graph", IamAuthEnabled=False)),
    "PCI4-SNS-DELIVERY-STATUS-LOGGING": (good(*_TOPIC), bad(*_TOPIC, DeliveryStatusLogging=None)),
}
