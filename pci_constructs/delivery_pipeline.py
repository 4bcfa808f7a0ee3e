"""A CDK Pipelines pipeline that promotes the landing zone through accounts (PCI DSS 6.5.1-6.5.6).

Source: a GitHub repository through an AWS CodeConnections connection. Synth: the
README's own `make synth`, so the compliance gate fails the pipeline closed. Then the
configured waves, each stage deploying one environment's stacks with the target
account's CDK bootstrap roles (`cdk bootstrap --trust <tooling account>`), a manual
approval before each stage that asks for one.

Secure defaults: the artifact bucket is a SecureBucket (SSE-KMS with a rotating customer
key, cross-account keys on, versioned, TLS-only, access-logged, retained); every CodeBuild
project runs unprivileged and logs to a KMS-encrypted log group kept >= 365 days.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import cast

from aws_cdk import Duration, Stack, Stage, pipelines
from aws_cdk import aws_codebuild as codebuild
from aws_cdk import aws_codepipeline as codepipeline
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct, IConstruct

from pci_constructs.encrypted_log_group import EncryptedLogGroup
from pci_constructs.key_ring import purpose_key
from pci_constructs.secure_bucket import SecureBucket

PACKAGE_JSON = Path(__file__).resolve().parent.parent / "package.json"
# CodeBuild's Ubuntu 22.04 standard image offers Python 3.11 and Node.js 20, the project's toolchain
# ("Docker images provided by CodeBuild", AWS CodeBuild User Guide).
BUILD_IMAGE = codebuild.LinuxBuildImage.STANDARD_7_0
RUNTIME_VERSIONS = {"python": "3.11", "nodejs": "20"}
SYNTH_OUTPUT = "cdk.out"


def _find(scope: IConstruct, *path: str) -> IConstruct | None:
    """The construct at `path` under `scope` (one construct ID per step), or None."""
    found: IConstruct | None = scope
    for construct_id in path:
        found = found.node.try_find_child(construct_id) if found is not None else None
    return found


def deployer_role_name(pipeline_name: str, part: str, region: str) -> str:
    """`<pipeline>-<part>-<region>` (`pci-lz-delivery-self-mutation-us-east-1`): IAM names are account-wide."""
    name = f"{pipeline_name}-{part}-{region}"
    if len(name) > 64:  # "IAM object quotas", IAM User Guide
        raise ValueError(f"pipeline_name: the deployer role name {name!r} exceeds 64 characters")
    return name


def pinned_cdk_cli_version() -> str:
    """The CDK CLI version `package.json` pins; self-mutation and asset publishing use the same one."""
    version: str = json.loads(PACKAGE_JSON.read_text(encoding="utf-8"))["devDependencies"]["aws-cdk"]
    return version


@dataclass(frozen=True)
class PipelineStage:
    """One stage to deploy: the Stage holding an environment's stacks, and whether a person approves first."""

    stage: Stage
    approval: bool


class DeliveryPipeline(Construct):
    """CodePipeline (V2) built by CDK Pipelines, with the landing zone's encryption and retention.

    Attributes: `pipeline` (pipelines.CodePipeline, built), `artifact_key`, `logs_key` (kms.Key),
    `artifact_bucket` (SecureBucket), `build_logs` (EncryptedLogGroup), `deployer_role_names` (the fixed names,
    by part, of the roles that assume the CDK bootstrap roles: `deployer_role_name`).
    Raises ValueError when a wave has no stage or two waves share a name.
    """

    pipeline: pipelines.CodePipeline
    artifact_key: kms.Key
    logs_key: kms.Key
    artifact_bucket: SecureBucket
    build_logs: EncryptedLogGroup
    deployer_role_names: dict[str, str]

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        pipeline_name: str,
        repository: str,
        branch: str,
        connection_arn: str,
        synth_commands: Sequence[str],
        waves: Mapping[str, Sequence[PipelineStage]],
        log_retention_days: int,
        replication_buckets: Mapping[str, s3.IBucket],
    ) -> None:
        super().__init__(scope, construct_id)
        if any(not stages for stages in waves.values()):
            raise ValueError("every wave needs at least one stage")
        self.artifact_key = purpose_key(
            self,
            "ArtifactKey",
            alias=f"pci-lz/delivery/{pipeline_name}/artifacts",
            description="PCI landing zone delivery: pipeline artifacts (cloud assembly, assets)",
        )
        self.logs_key = purpose_key(
            self,
            "LogsKey",
            alias=f"pci-lz/delivery/{pipeline_name}/build-logs",
            description="PCI landing zone delivery: CodeBuild logs",
        )
        log_group_name = f"/pci-lz/delivery/{pipeline_name}/codebuild"
        self._allow_cloudwatch_logs(log_group_name)
        access_logs = SecureBucket(
            self,
            "ArtifactAccessLogs",
            s3_managed_encryption_reason="S3 server access logging delivers only to SSE-S3 buckets",
            is_access_log_target=True,
        )
        self.artifact_bucket = SecureBucket(
            self,
            "Artifacts",
            encryption_key=self.artifact_key,
            access_logs_bucket=access_logs.bucket,
            noncurrent_version_expiration_days=90,
        )
        self.build_logs = EncryptedLogGroup(
            self,
            "BuildLogs",
            encryption_key=self.logs_key,
            retention_days=log_retention_days,
            log_group_name=log_group_name,
        )
        build_defaults = pipelines.CodeBuildOptions(
            build_environment=codebuild.BuildEnvironment(
                build_image=BUILD_IMAGE,
                compute_type=codebuild.ComputeType.SMALL,
                privileged=False,
            ),
            logging=codebuild.LoggingOptions(
                cloud_watch=codebuild.CloudWatchLoggingOptions(log_group=self.build_logs.log_group)
            ),
            timeout=Duration.minutes(60),
        )
        source = pipelines.CodePipelineSource.connection(repository, branch, connection_arn=connection_arn)
        synth = pipelines.CodeBuildStep(
            "Synth",
            input=source,
            commands=list(synth_commands),
            primary_output_directory=SYNTH_OUTPUT,
            # Synthesizing every environment of a delivery needs more memory than SMALL's 3 GB.
            build_environment=codebuild.BuildEnvironment(
                build_image=BUILD_IMAGE, compute_type=codebuild.ComputeType.MEDIUM, privileged=False
            ),
            partial_build_spec=codebuild.BuildSpec.from_object(
                {"phases": {"install": {"runtime-versions": RUNTIME_VERSIONS}}}
            ),
        )
        self.pipeline = pipelines.CodePipeline(
            self,
            "Pipeline",
            pipeline_name=pipeline_name,
            pipeline_type=codepipeline.PipelineType.V2,
            synth=synth,
            code_build_defaults=build_defaults,
            cli_version=pinned_cdk_cli_version(),
            # One publishing project per asset type, not per asset: fewer roles, fewer projects.
            publish_assets_in_parallel=False,
            docker_enabled_for_synth=False,
            docker_enabled_for_self_mutation=False,
            use_change_sets=True,
            # Our own per-region artifact buckets (ReplicationArtifacts): CDK's generated support stacks
            # would hold buckets without access logs or versioning, under names no registry entry can name.
            # The tooling region's entry is the pipeline's own artifact bucket (CodePipeline takes
            # either artifact_bucket or this map, never both).
            cross_region_replication_buckets={
                **replication_buckets,
                Stack.of(self).region: self.artifact_bucket.bucket,
            },
        )
        for wave_name, stages in waves.items():
            wave = self.pipeline.add_wave(wave_name)
            for entry in stages:
                pre: list[pipelines.Step] = []
                if entry.approval:
                    pre.append(
                        pipelines.ManualApprovalStep(
                            f"Approve-{entry.stage.stage_name}",
                            comment=(
                                f"Promote to {entry.stage.stage_name}: review the change set of every stack"
                                " and the compliance evidence of this run (PCI DSS 6.5.1)."
                            ),
                        )
                    )
                wave.add_stage(entry.stage, pre=pre)
        self.pipeline.build_pipeline()
        self._allow_both_connection_prefixes(connection_arn)
        self.deployer_role_names = self._name_deployer_roles(pipeline_name)

    def _name_deployer_roles(self, pipeline_name: str) -> dict[str, str]:
        """Fixed names for the roles of CDK Pipelines that assume the CDK bootstrap roles: the pipeline's own
        (CloudFormation actions run as each target's deploy role), self-mutation's (deploy and publishing roles
        of the tooling account) and the asset publishers' (file and image publishing roles). The permissions
        boundary lets exactly these names use the bootstrap roles (`deployer_role_arns`); a generated name
        could only be matched by a wildcard that any new role named like it would match too."""
        region = Stack.of(self).region
        found: dict[str, str] = {}
        candidates = {
            "pipeline": self.pipeline.pipeline.role,
            "self-mutation": _find(self.pipeline, "UpdatePipeline", "SelfMutation", "Role"),
            "file-assets": _find(self.pipeline, "Assets", "FileRole"),
            "image-assets": _find(self.pipeline, "Assets", "ImageRole"),
        }
        for part, role in candidates.items():
            if role is None and part.endswith("-assets"):
                continue  # only with file (Lambda code) or Docker image assets to publish
            if not isinstance(role, iam.Role):
                raise TypeError(f"CDK Pipelines' {part} role moved; review the deployer role names")
            name = deployer_role_name(pipeline_name, part, region)
            cast(iam.CfnRole, role.node.default_child).role_name = name
            found[part] = name
        return found

    def _allow_both_connection_prefixes(self, connection_arn: str) -> None:
        """The source action's role may use the connection under both service prefixes.

        CDK grants `codestar-connections:UseConnection` only. AWS renamed CodeStar Connections to
        CodeConnections: connections created under the new prefix (`arn:aws:codeconnections:...`) are
        authorized by `codeconnections:UseConnection` ("Actions, resources, and condition keys for AWS
        CodeConnections", Service Authorization Reference; "Update a service role for connections",
        AWS CodePipeline User Guide), so the role gets both, on this connection only.
        """
        source = self.pipeline.pipeline.node.try_find_child("Source")
        roles = [
            c
            for c in (source.node.find_all() if source is not None else [])
            if isinstance(c, iam.Role) and c.node.id == "CodePipelineActionRole"
        ]
        if len(roles) != 1:
            raise TypeError("CDK Pipelines' source action role moved; review the connection grant")
        roles[0].add_to_principal_policy(
            iam.PolicyStatement(actions=["codeconnections:UseConnection"], resources=[connection_arn])
        )

    def _allow_cloudwatch_logs(self, log_group_name: str) -> None:
        """CloudWatch Logs may use the logs key for this pipeline's log group only.

        "Encrypt log data in CloudWatch Logs using AWS Key Management Service" (CloudWatch Logs
        User Guide): the service principal `logs.<region>.amazonaws.com` with the
        `kms:EncryptionContext:aws:logs:arn` condition naming the log group.
        """
        stack = Stack.of(self)
        self.logs_key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AllowCloudWatchLogsForTheBuildLogGroup",
                principals=[iam.ServicePrincipal(f"logs.{stack.region}.amazonaws.com")],
                actions=["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"],
                resources=["*"],
                conditions={
                    "ArnEquals": {
                        "kms:EncryptionContext:aws:logs:arn": (
                            f"arn:{stack.partition}:logs:{stack.region}:{stack.account}:log-group:{log_group_name}"
                        )
                    }
                },
            )
        )


class ReplicationArtifacts(Construct):
    """The pipeline's artifact bucket in one more region, for the stages' stacks in that region.

    CodePipeline copies artifacts into a bucket in each region an action runs in. The bucket
    and its key alias carry physical names (`pcilz-delivery-artifacts-<account>-<region>`,
    `alias/pci-lz/delivery/artifacts-<region>`) so the pipeline in the tooling region can
    name them; the bucket's default key is the alias, as CodePipeline's artifact store names
    it, so the bucket's deny of other keys accepts what CodePipeline sends.
    Attributes: `bucket` (SecureBucket), `key` (kms.Key), `alias` (kms.Alias).
    """

    bucket: SecureBucket
    key: kms.Key
    alias: kms.Alias

    def __init__(self, scope: Construct, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        self.key = purpose_key(
            self,
            "ArtifactKey",
            alias=f"pci-lz/delivery/artifacts-{stack.region}",
            description="PCI landing zone delivery: pipeline artifacts replicated into this region",
        )
        alias = self.key.node.find_child("Alias")
        assert isinstance(alias, kms.Alias)
        self.alias = alias
        access_logs = SecureBucket(
            self,
            "AccessLogs",
            s3_managed_encryption_reason="S3 server access logging delivers only to SSE-S3 buckets",
            is_access_log_target=True,
        )
        self.bucket = SecureBucket(
            self,
            "Artifacts",
            bucket_name=replication_bucket_name(stack.account, stack.region),
            encryption_key=self.alias,
            access_logs_bucket=access_logs.bucket,
            noncurrent_version_expiration_days=90,
        )


def replication_bucket_name(account: str, region: str) -> str:
    """`pcilz-delivery-artifacts-<account>-<region>` (at most 63 characters for every AWS region)."""
    return f"pcilz-delivery-artifacts-{account}-{region}"
