"""Every public construct of pci_constructs in a bare `App()`: no cdk.json, no context, default feature flags.

A fork reuses the constructs in its own app; they must not depend on this project's cdk.json.
One bare App holds one stack per construct group and is synthesized once through the gate (the
three cdk-nag packs, no acknowledgments): it must synthesize, and every finding must be one the
project itself acknowledges for the same rule (the findings the constructs cannot fix, such as
the public subnets' route to the internet), never a new one.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import App, Aspects, Duration, Environment, Stack, assertions
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sqs as sqs

from compliance.acknowledgments import ACKNOWLEDGMENTS
from compliance.gate import GateReport, read_report, register_gates
from config.models import DEMO_CLIENT_CA_BUNDLE
from pci_constructs import card_vault
from pci_constructs.alert_topic import RegionalAlertTopic
from pci_constructs.audit_trail import AuditTrail
from pci_constructs.card_vault import DATABASE_USERS, CardVault, VaultClient, VaultDatabase
from pci_constructs.client_trust_store import ClientTrustStore, RevocationList
from pci_constructs.detective_controls import ConfigRecorder, SecurityHub, ThreatDetection
from pci_constructs.ebs_default_encryption import EbsDefaultEncryption
from pci_constructs.encrypted_database import EncryptedDatabase
from pci_constructs.encrypted_log_group import EncryptedLogGroup
from pci_constructs.justification import justifications_of, justify
from pci_constructs.key_ring import KeyRing, only_grants_for_aws_resources
from pci_constructs.log_archive import LogArchive
from pci_constructs.permissions_boundary import PermissionsBoundary, PermissionsBoundaryAspect
from pci_constructs.protected_alb import ProtectedAlb
from pci_constructs.secure_bucket import BucketReplication, SecureBucket
from pci_constructs.security_alarms import FindingAlerts, SecurityAlarms
from pci_constructs.segmented_vpc import SegmentedVpc
from pci_constructs.vpc_function import NETWORK_INTERFACE_ACTIONS, RUNTIME, VpcFunction
from pci_constructs.web_acl import RegionalWebAcl
from tests.conftest import ROOT

ACCOUNT = "111111111111"
ENV = Environment(account=ACCOUNT, region="us-east-1")
CERTIFICATE = f"arn:aws:acm:us-east-1:{ACCOUNT}:certificate/00000000-0000-4000-8000-00000000ce01"
AZS = ["us-east-1a", "us-east-1b"]


class _Stack(Stack):
    """A plain Stack with AZs from configuration (no lookup), as a fork's own stack would be."""

    @property
    def availability_zones(self) -> list[str]:
        return list(AZS)


def _access_logs(scope: Stack) -> SecureBucket:
    return SecureBucket(
        scope,
        "AccessLogs",
        s3_managed_encryption_reason="S3 server access logging delivers only to SSE-S3 buckets",
        is_access_log_target=True,
    )


def _network(scope: Stack, log_key: kms.IKey, *, behind_proxy: bool = False) -> SegmentedVpc:
    return SegmentedVpc(
        scope,
        "Network",
        cidr="10.0.0.0/16",
        availability_zones=AZS,
        allowed_ingress_cidrs=["0.0.0.0/0"],
        app_port=8443,
        db_port=5432,
        log_key=log_key,
        log_retention_days=365,
        database_behind_proxy=behind_proxy,
    )


def _storage(app: App) -> None:
    stack = _Stack(app, "BareStorage", env=ENV)
    key = kms.Key(stack, "CallersKey", enable_key_rotation=True)
    only_grants_for_aws_resources(key)  # the caller's own key, held to the packaged rule like ours
    logs = _access_logs(stack)
    replication_role = iam.Role(stack, "ReplicationRole", assumed_by=iam.ServicePrincipal("s3.amazonaws.com"))
    SecureBucket(
        stack,
        "Data",
        encryption_key=key,
        access_logs_bucket=logs.bucket,
        replication=BucketReplication(
            role=replication_role,
            destination_bucket_arn="arn:aws:s3:::bare-data-replica-111111111111-us-west-2",
            destination_region="us-west-2",
            destination_key_arn=f"arn:aws:kms:us-west-2:{ACCOUNT}:alias/bare/replica",
        ),
    )
    EncryptedLogGroup(stack, "AppLogs", encryption_key=key, retention_days=365)


def _keys_and_compute(app: App) -> None:
    stack = _Stack(app, "BareRegional", env=ENV)
    ring = KeyRing(stack, "Keys", alias_prefix="bare", administrator_role_arns=[f"arn:aws:iam::{ACCOUNT}:role/admin"])
    network = _network(stack, ring.logs, behind_proxy=True)
    database = EncryptedDatabase(
        stack,
        "Database",
        vpc=network.vpc,
        database_subnets=ec2.SubnetSelection(subnets=network.cde_subnets.subnets),
        database_security_group=network.database_security_group,
        client_security_group=network.application_security_group,
        rotation_subnets=ec2.SubnetSelection(subnets=network.application_subnets.subnets),
        endpoint_security_group=network.endpoint_security_group,
        instance_identifier="bare-cde",
        port=5432,
        storage_key=ring.cardholder_data,
        secrets_key=ring.secrets,
        log_key=ring.logs,
        log_retention_days=365,
        instance_type="m7g.large",
        allocated_storage_gib=100,
        max_allocated_storage_gib=200,
        backup_retention_days=7,
        rotation_days=30,
        database_name="cde",
        enable_proxy=True,
        proxy_database_users=DATABASE_USERS,
    )
    EbsDefaultEncryption(stack, "Ebs", encryption_key=ring.block_storage, log_key=ring.logs, log_retention_days=365)
    web_acl = RegionalWebAcl(
        stack,
        "WebAcl",
        name="bare-edge",
        rate_limit=1000,
        rate_window_seconds=300,
        max_body_bytes=8192,
        log_key=ring.logs,
        log_retention_days=365,
    )
    trust_store = ClientTrustStore(
        stack,
        "ClientTrust",
        ca_bundle=ROOT / DEMO_CLIENT_CA_BUNDLE,
        name="bare-clients",
        revocation=RevocationList(bucket="bare-pki-crls", key="clients/bare-ca.crl.pem", version="v3"),
    )
    alb = ProtectedAlb(
        stack,
        "Alb",
        vpc=network.vpc,
        subnets=ec2.SubnetSelection(subnets=network.public_subnets.subnets),
        security_group=network.edge_security_group,
        certificate_arn=CERTIFICATE,
        tls_policy="ELBSecurityPolicy-TLS13-1-2-Res-2021-06",
        web_acl=web_acl,
        access_logs_bucket=_access_logs(stack).bucket,
        mutual_authentication=trust_store.mutual_authentication,
    )
    resource_id = database.instance.instance_resource_id
    assert resource_id is not None
    CardVault(
        stack,
        "CardVault",
        alias_prefix="bare",
        key_administrator_role_arns=(f"arn:aws:iam::{ACCOUNT}:role/admin",),
        vpc=network.vpc,
        subnets=ec2.SubnetSelection(subnets=network.application_subnets.subnets),
        endpoint_security_group=network.endpoint_security_group,
        database=VaultDatabase(
            proxy=database.proxy,
            instance_endpoint=database.instance.db_instance_endpoint_address,
            instance_resource_id=resource_id,
            port=database.port,
            database_name="cde",
            master_secret=database.attached_secret,
            database_security_group=network.database_security_group,
            client_security_group=database.function_client_security_group,
        ),
        cardholder_data_key=ring.cardholder_data,
        secrets_key=ring.secrets,
        log_key=ring.logs,
        log_retention_days=365,
        listener=alb.https_listener,
        listener_rule_priority=100,
        target_group_name="bare-vault-api",
        clients=(
            VaultClient(
                client_id="payments", subject="CN=payments-client,O=Bare", issuer="CN=Bare CA", rights=("lookup",)
            ),
        ),
        alarm_topic=RegionalAlertTopic(
            stack, "VaultAlerts", topic_key=ring.alerts, email="security@example.com", display_name="bare vault"
        ).topic,
        detokenize_caller_role_arns=(f"arn:aws:iam::{ACCOUNT}:role/detokenizer",),
        purge_grace_days=30,
        purge_schedule_hour_utc=3,
    )
    _vpc_functions(stack, ring, network)


def _vpc_functions(stack: Stack, ring: KeyRing, network: SegmentedVpc) -> None:
    """A fork's queue consumer (with its dead-letter queue) and a synchronously invoked function."""
    dlq = sqs.Queue(
        stack,
        "OrdersDlq",
        encryption=sqs.QueueEncryption.KMS,
        encryption_master_key=ring.cardholder_data,
        enforce_ssl=True,
        retention_period=Duration.days(14),
    )
    for name, queue, reason in (
        ("Consumer", dlq, None),
        ("Lookup", None, "Callers invoke the lookup synchronously and get its error; no asynchronous failure exists"),
    ):
        group = ec2.SecurityGroup(stack, f"{name}Sg", vpc=network.vpc, allow_all_outbound=False)
        VpcFunction(
            stack,
            name,
            code=lambda_.Code.from_inline("def handler(event, context):\n    return None\n"),
            handler="index.handler",
            description=f"Bare {name.lower()} function",
            vpc=network.vpc,
            subnets=ec2.SubnetSelection(subnets=network.application_subnets.subnets),
            security_group=group,
            environment_key=ring.cardholder_data,
            log_key=ring.logs,
            log_retention_days=365,
            reserved_concurrency=5,
            dead_letter_queue=queue,
            no_dead_letter_queue_reason=reason,
        )


def _audit(app: App) -> None:
    stack = _Stack(app, "BareAudit", env=ENV)
    ring = KeyRing(stack, "Keys", alias_prefix="bare-audit")
    logs = _access_logs(stack)
    archive = LogArchive(
        stack,
        "LogArchive",
        encryption_key=ring.logs,
        access_logs_bucket=logs.bucket,
        retention_days=365,
        object_lock_mode="GOVERNANCE",
        bucket_name=f"bare-archive-{ACCOUNT}-us-east-1",
    )
    trail = AuditTrail(
        stack,
        "Trail",
        trail_name="bare-trail",
        bucket=archive.bucket,
        encryption_key=ring.logs,
        log_retention_days=365,
        s3_data_event_buckets=None,
        lambda_data_event_functions=None,
    )
    alarms = SecurityAlarms(
        stack,
        "Alarms",
        log_group=trail.log_group,
        topic_key=ring.alerts,
        email="security@example.com",
        metric_namespace="Bare/Security",
    )
    FindingAlerts(stack, "FindingAlerts", topic=alarms.topic)
    ConfigRecorder(
        stack,
        "Config",
        encryption_key=ring.s3_data,
        access_logs_bucket=logs.bucket,
        record_global_resources=True,
        conformance_pack_name="bare-pci-dss-v4",
        conformance_pack_template=(ROOT / "compliance" / "conformance" / "pci-dss-v4.json").read_text(encoding="utf-8"),
        retention_days=365,
    )
    SecurityHub(stack, "SecurityHub")
    ThreatDetection(stack, "GuardDuty")


@dataclass
class Bare:
    templates: dict[str, dict[str, Any]]
    report: GateReport

    def template(self, name: str) -> assertions.Template:
        return assertions.Template.from_json(self.templates[name])


@pytest.fixture(scope="module")
def bare(tmp_path_factory: pytest.TempPathFactory) -> Bare:
    outdir = tmp_path_factory.mktemp("bare") / "cdk.out"
    app = App(outdir=str(outdir))  # no context at all: default feature flags
    _storage(app)
    _keys_and_compute(app)
    _audit(app)
    for stack in (c for c in app.node.children if isinstance(c, Stack)):  # what the app decides: a boundary
        boundary = PermissionsBoundary(stack, "Boundary", environment=stack.node.id.lower())
        Aspects.of(stack).add(PermissionsBoundaryAspect(boundaries={stack.region: boundary}))
    gate = register_gates(app, acknowledgments=())
    try:
        app.synth()
    except RuntimeError as err:  # the gate's findings stop CDK after the templates are written
        if "ValidationFailed" not in str(err):
            raise
    templates = {
        p.name.removesuffix(".template.json"): json.loads(p.read_text()) for p in outdir.glob("*.template.json")
    }
    assert gate.packs
    return Bare(templates, read_report(outdir))


def test_every_construct_synthesizes_in_a_bare_app(bare: Bare) -> None:
    assert set(bare.templates) == {"BareStorage", "BareRegional", "BareAudit"}


def _rule_id(rule: str) -> str:
    """`CloudFormation-Validate::W3010` and `AwsSolutions-IAM5[Resource::*]` -> `W3010`, `AwsSolutions-IAM5`."""
    return rule.split("[", 1)[0].rsplit("::", 1)[-1]


def test_bare_constructs_raise_no_finding_the_project_does_not_acknowledge(bare: Bare) -> None:
    acknowledged = {_rule_id(entry.rule) for entry in ACKNOWLEDGMENTS}
    new = [str(f) for f in bare.report.findings if _rule_id(f.rule) not in acknowledged]
    assert not new, "findings the constructs raise outside this project's app:\n  " + "\n  ".join(new)


def test_secure_bucket_grants_log_delivery_by_bucket_policy_without_the_cdk_json_flag(bare: Bare) -> None:
    template = bare.template("BareStorage")
    template.has_resource_properties(
        "AWS::S3::BucketPolicy",
        {
            "PolicyDocument": {
                "Statement": assertions.Match.array_with(
                    [
                        assertions.Match.object_like(
                            {
                                "Action": "s3:PutObject",
                                "Effect": "Allow",
                                "Principal": {"Service": "logging.s3.amazonaws.com"},
                            }
                        )
                    ]
                )
            }
        },
    )
    for bucket in template.find_resources("AWS::S3::Bucket").values():
        assert "AccessControl" not in bucket["Properties"]
        assert bucket["Properties"]["OwnershipControls"]["Rules"] == [{"ObjectOwnership": "BucketOwnerEnforced"}]


def test_encrypted_log_group_lets_cloudwatch_logs_use_the_callers_key(bare: Bare) -> None:
    (key,) = bare.template("BareStorage").find_resources("AWS::KMS::Key").values()
    statements = [
        s
        for s in key["Properties"]["KeyPolicy"]["Statement"]
        if s.get("Principal", {}).get("Service", "").startswith("logs.")
    ]
    assert len(statements) == 1, statements
    (statement,) = statements
    assert statement["Principal"] == {"Service": "logs.us-east-1.amazonaws.com"}
    assert statement["Effect"] == "Allow"
    # The partition is a token in a bare App (no partition-literals flag): the condition joins it in.
    condition = json.dumps(statement["Condition"]["ArnLike"]["kms:EncryptionContext:aws:logs:arn"])
    assert f":logs:us-east-1:{ACCOUNT}:log-group:*" in condition


def test_the_logs_statement_is_rendered_once_per_key_however_many_groups_use_it(bare: Bare) -> None:
    keys = bare.template("BareRegional").find_resources("AWS::KMS::Key")
    for key in keys.values():
        sids = [s.get("Sid") for s in key["Properties"]["KeyPolicy"]["Statement"]]
        assert sids.count("AllowCloudWatchLogsForThisAccountLogGroups") <= 1, sids


def test_secure_bucket_replicates_kms_objects_with_the_destination_key(bare: Bare) -> None:
    template = bare.template("BareStorage")
    template.has_resource_properties(
        "AWS::S3::Bucket",
        {
            "ReplicationConfiguration": {
                "Role": assertions.Match.any_value(),
                "Rules": [
                    assertions.Match.object_like(
                        {
                            "Status": "Enabled",
                            "DeleteMarkerReplication": {"Status": "Disabled"},
                            "SourceSelectionCriteria": {"SseKmsEncryptedObjects": {"Status": "Enabled"}},
                            "Destination": {
                                "Bucket": "arn:aws:s3:::bare-data-replica-111111111111-us-west-2",
                                "EncryptionConfiguration": {
                                    "ReplicaKmsKeyID": f"arn:aws:kms:us-west-2:{ACCOUNT}:alias/bare/replica"
                                },
                            },
                        }
                    )
                ],
            }
        },
    )
    template.has_resource_properties(
        "AWS::IAM::ManagedPolicy",
        {
            "PolicyDocument": {
                "Statement": assertions.Match.array_with(
                    [
                        assertions.Match.object_like(
                            {
                                "Action": "kms:Decrypt",
                                "Condition": {"StringEquals": {"kms:ViaService": "s3.us-east-1.amazonaws.com"}},
                            }
                        )
                    ]
                )
            }
        },
    )


def test_replicating_a_kms_bucket_needs_the_destination_key(tmp_path: Path) -> None:
    stack = _Stack(App(outdir=str(tmp_path)), "Replication", env=ENV)
    role = iam.Role(stack, "Role", assumed_by=iam.ServicePrincipal("s3.amazonaws.com"))
    with pytest.raises(ValueError, match="needs destination_key_arn"):
        SecureBucket(
            stack,
            "Data",
            encryption_key=kms.Key(stack, "Key", enable_key_rotation=True),
            access_logs_bucket=_access_logs(stack).bucket,
            replication=BucketReplication(
                role=role, destination_bucket_arn="arn:aws:s3:::elsewhere", destination_region="us-west-2"
            ),
        )


JUSTIFIED_BY_SEGMENTED_VPC = {
    "AwsSolutions-VPC3",
    "PCI4-EC2-NACL-NO-OPEN-INGRESS",
    "PCI.DSS.321-VPCNoUnrestrictedRouteToIGW",
    "NIST.800.53.R5-VPCNoUnrestrictedRouteToIGW",
    "PCI4-LAMBDA-IN-VPC",
}


def test_segmented_vpc_carries_its_own_justifications_into_a_bare_app(bare: Bare) -> None:
    """The findings SegmentedVpc knowingly produces are acknowledged by the construct itself (with
    its reason and requirement), so an app that uses it without this project's registry passes."""
    raised = {_rule_id(f.rule) for f in bare.report.findings if "/Network/" in f.path or "VpcRestrict" in f.path}
    assert not raised & JUSTIFIED_BY_SEGMENTED_VPC, raised
    hidden = [f for f in bare.report.acknowledged if _rule_id(f.rule) in JUSTIFIED_BY_SEGMENTED_VPC]
    assert {_rule_id(f.rule) for f in hidden} == JUSTIFIED_BY_SEGMENTED_VPC
    copied = [
        e
        for e in ACKNOWLEDGMENTS
        if e.rule in JUSTIFIED_BY_SEGMENTED_VPC and any(p in e.path for p in ("Nacl", "PublicSubnet", "VpcRestrict"))
    ]
    assert not copied, "the registry copies none of the construct's own justifications"


def test_a_justification_is_structured_and_checked() -> None:
    stack = Stack(App(), "J")
    bucket = s3.Bucket(stack, "B")
    with pytest.raises(ValueError, match="specific"):
        justify(stack, bucket, rule="AwsSolutions-S1", reason="n/a", requirement="PCI DSS v4.0.1 10.2.1")
    with pytest.raises(ValueError, match=r"PCI DSS v4\.0\.1"):
        justify(stack, bucket, rule="AwsSolutions-S1", reason="x" * 50, requirement="10.2.1")
    with pytest.raises(ValueError, match="no known pack"):
        justify(stack, bucket, rule="S1", reason="x" * 50, requirement="PCI DSS v4.0.1 10.2.1")
    entry = justify(stack, bucket, rule="AwsSolutions-S1", reason="x" * 50, requirement="PCI DSS v4.0.1 10.2.1")
    assert justifications_of(stack) == (entry,)
    assert (entry.rule, entry.construct_type) == ("AwsSolutions-S1", "Stack")
    assert entry.requirement == "PCI DSS v4.0.1 10.2.1"


def _network_policies(bare: Bare) -> dict[str, Any]:
    return {
        logical_id: resource
        for logical_id, resource in bare.template("BareRegional").find_resources("AWS::IAM::ManagedPolicy").items()
        if resource["Properties"].get("Description", "").startswith("Lambda VPC network interfaces")
    }


def test_vpc_function_passes_the_gate_in_a_bare_app_with_its_own_acknowledgment(bare: Bare) -> None:
    """A fork's Lambda in the VPC: no finding on it, its one IAM5 finding acknowledged by the construct."""
    # Every role of the bare app (the card vault's, the flow logs', CDK's providers') has one "could not
    # resolve PermissionsBoundary" finding: the test's boundary ARN joins the partition, unknown until deploy.
    mine = [
        str(f)
        for f in bare.report.findings
        if any(f"/{n}/" in f.path for n in ("Consumer", "Lookup"))
        and "could not resolve PermissionsBoundary" not in str(f)
    ]
    assert not mine, mine
    acknowledged = {
        (f.path.split("/")[1], _rule_id(f.rule))
        for f in bare.report.acknowledged
        if any(f"/{n}/" in f.path for n in ("Consumer", "Lookup"))
    }
    assert ("Consumer", "AwsSolutions-IAM5") in acknowledged
    assert ("Lookup", "NIST.800.53.R5-LambdaDLQ") in acknowledged
    assert ("Consumer", "NIST.800.53.R5-LambdaDLQ") not in acknowledged


def test_vpc_function_network_policy_carries_the_checkov_skip_and_nothing_else(bare: Bare) -> None:
    policies = _network_policies(bare)
    assert len(policies) == 2, policies
    for resource in policies.values():
        (skip,) = resource["Metadata"]["checkov"]["skip"]
        assert skip["id"] == "CKV_AWS_111"
        assert "network-interface" in skip["comment"]
        actions = {a for s in resource["Properties"]["PolicyDocument"]["Statement"] for a in s["Action"]}
        assert actions == {*NETWORK_INTERFACE_ACTIONS, "xray:PutTraceSegments", "xray:PutTelemetryRecords"}
    # The function's own policy (log group, keys, queue) names its resources and carries no skip.
    template = bare.template("BareRegional")
    template.has_resource(
        "AWS::IAM::ManagedPolicy",
        {
            "Properties": {
                "Description": "Bare consumer function: its log group, environment key and own data access",
                "PolicyDocument": {
                    "Statement": assertions.Match.array_with(
                        [
                            assertions.Match.object_like(
                                {"Action": "sqs:SendMessage", "Resource": assertions.Match.any_value()}
                            )
                        ]
                    )
                },
            },
            "Metadata": assertions.Match.absent(),
        },
    )


def test_vpc_function_is_reserved_traced_in_the_vpc_and_logs_to_a_retained_encrypted_group(bare: Bare) -> None:
    template = bare.template("BareRegional")
    template.has_resource_properties(
        "AWS::Lambda::Function",
        {
            "Description": "Bare consumer function",
            "Runtime": RUNTIME.name,
            "ReservedConcurrentExecutions": 5,
            "TracingConfig": {"Mode": "Active"},
            "KmsKeyArn": assertions.Match.any_value(),
            "DeadLetterConfig": {"TargetArn": assertions.Match.any_value()},
            "VpcConfig": {"SubnetIds": assertions.Match.any_value(), "SecurityGroupIds": assertions.Match.any_value()},
            "LoggingConfig": assertions.Match.object_like({"LogGroup": assertions.Match.any_value()}),
        },
    )
    lookup = template.find_resources("AWS::Lambda::Function", {"Properties": {"Description": "Bare lookup function"}})
    ((_, resource),) = lookup.items()
    assert "DeadLetterConfig" not in resource["Properties"]
    assert [s["id"] for s in resource["Metadata"]["checkov"]["skip"]] == ["CKV_AWS_116"]
    for group in template.find_resources("AWS::Logs::LogGroup").values():
        assert group["DeletionPolicy"] in ("Retain", "RetainExceptOnCreate")
        assert "KmsKeyId" in group["Properties"]


def test_vpc_function_refuses_no_queue_without_a_reason_and_no_concurrency() -> None:
    stack = _Stack(App(), "Refused", env=ENV)
    vpc = ec2.Vpc(stack, "Vpc", max_azs=2)
    key = kms.Key(stack, "Key", enable_key_rotation=True)
    group = ec2.SecurityGroup(stack, "Sg", vpc=vpc)
    options = {
        "code": lambda_.Code.from_inline("def handler(e, c):\n    return None\n"),
        "handler": "index.handler",
        "description": "refused",
        "vpc": vpc,
        "subnets": ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS),
        "security_group": group,
        "environment_key": key,
        "log_key": key,
        "log_retention_days": 365,
    }
    with pytest.raises(ValueError, match="exactly one of dead_letter_queue"):
        VpcFunction(stack, "NoQueue", reserved_concurrency=1, dead_letter_queue=None, **options)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="at least 1"):
        VpcFunction(stack, "NoConcurrency", reserved_concurrency=0, dead_letter_queue=None, **options)  # type: ignore[arg-type]


def test_vpc_function_and_the_card_vault_run_on_the_one_pinned_runtime() -> None:
    assert card_vault.RUNTIME is RUNTIME
