"""The delivery app: the pipeline and GitHub OIDC stacks (tooling account) and one Stage per environment.

`cdk synth -c delivery=default|path/to/delivery.json` builds it (app.py); the
pipeline's own synth step runs the same command, so the pipeline updates itself.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from aws_cdk import Aspects, CfnOutput, Environment, Stack, Stage, Tags
from constructs import Construct

from config.delivery import DELIVERY_STACK_PREFIX, DeliveryConfig
from pci_constructs.delivery_pipeline import DeliveryPipeline, PipelineStage, ReplicationArtifacts
from pci_constructs.github_oidc import DeployTarget, GitHubDeployRoles, deploy_role_name
from pci_constructs.permissions_boundary import PermissionsBoundary, PermissionsBoundaryAspect
from stacks.landing_zone import LandingZone, build_landing_zone

# Construct paths (and stack names) of the delivery's own stacks start with this.
DELIVERY_PATH_PREFIX = f"PciLz-{DELIVERY_STACK_PREFIX}-"
# Build logs of the pipeline are audit evidence of every change (PCI DSS 10.5.1: a year at least).
PIPELINE_LOG_RETENTION_DAYS = 365


def delivery_stack_name(part: str, region: str) -> str:
    """`PciLz-delivery-<Part>-<region>`, beside the environments' `PciLz-<env>-<Part>-<region>`."""
    return f"{DELIVERY_PATH_PREFIX}{part}-{region}"


def synth_command(selector: str) -> str:
    """The README's synth command for this delivery: the pipeline builds exactly what a person would."""
    return f"make synth DELIVERY={selector}"


class LandingZoneStage(Stage):
    """One environment's stacks, deployable by CDK Pipelines; stack names as with `cdk deploy`."""

    zone: LandingZone

    def __init__(self, scope: Construct, construct_id: str, *, delivery: DeliveryConfig, environment: str) -> None:
        config = delivery.environment(environment).config
        super().__init__(scope, construct_id, env=Environment(account=config.account, region=config.home_region))
        self.zone = build_landing_zone(self, config)


class ToolingStack(Stack):
    """A stack of the tooling account: named by its construct ID, termination protection on."""

    def __init__(self, scope: Construct, construct_id: str, *, account: str, region: str, description: str) -> None:
        super().__init__(
            scope,
            construct_id,
            stack_name=construct_id,
            env=Environment(account=account, region=region),
            description=description,
            termination_protection=True,
        )


class PipelineStack(ToolingStack):
    """The CDK pipeline in the tooling account."""

    pipeline: DeliveryPipeline

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        delivery: DeliveryConfig,
        selector: str,
        stages: dict[str, LandingZoneStage],
        replicas: dict[str, ReplicationArtifactsStack],
    ) -> None:
        super().__init__(
            scope,
            construct_id,
            account=delivery.tooling.account,
            region=delivery.tooling.region,
            description="PCI landing zone delivery: CDK pipeline promoting the landing zone through accounts",
        )
        self.pipeline = DeliveryPipeline(
            self,
            "Delivery",
            pipeline_name="pci-lz-delivery",
            repository=delivery.source.full_name,
            branch=delivery.source.branch,
            connection_arn=delivery.source.connection_arn,
            synth_commands=[synth_command(selector)],
            waves={
                wave.name: [PipelineStage(stages[s.environment], s.approval) for s in wave.stages]
                for wave in delivery.waves
            },
            log_retention_days=PIPELINE_LOG_RETENTION_DAYS,
            replication_buckets={region: replica.artifacts.bucket.bucket for region, replica in replicas.items()},
        )
        for replica in replicas.values():
            self.add_stack_dependency(replica, "the pipeline names the artifact bucket of every stage region")


class ReplicationArtifactsStack(ToolingStack):
    """The pipeline's artifact bucket in a region other than the tooling region (tooling account)."""

    artifacts: ReplicationArtifacts

    def __init__(self, scope: Construct, construct_id: str, *, delivery: DeliveryConfig, region: str) -> None:
        super().__init__(
            scope,
            construct_id,
            account=delivery.tooling.account,
            region=region,
            description="PCI landing zone delivery: pipeline artifacts for the stacks in this region",
        )
        self.artifacts = ReplicationArtifacts(self, "Replication")


class GitHubOidcStack(ToolingStack):
    """The GitHub OIDC provider and one deploy role per environment, in the tooling account."""

    roles: GitHubDeployRoles

    def __init__(self, scope: Construct, construct_id: str, *, delivery: DeliveryConfig) -> None:
        super().__init__(
            scope,
            construct_id,
            account=delivery.tooling.account,
            region=delivery.tooling.region,
            description="PCI landing zone delivery: GitHub Actions OIDC deploy roles",
        )
        self.roles = GitHubDeployRoles(
            self,
            "GitHub",
            repository=delivery.source.full_name,
            targets={
                entry.config.name: DeployTarget(account=entry.config.account, regions=tuple(entry.config.regions))
                for entry in delivery.environments
            },
            existing_provider_arn=delivery.github_oidc.existing_provider_arn,
        )
        for environment, role in self.roles.roles.items():
            CfnOutput(
                self,
                f"DeployRoleArn-{environment}",
                value=role.role_arn,
                description=f"role-to-assume of the GitHub environment {environment}",
            )


@dataclass
class Delivery:
    config: DeliveryConfig
    stages: dict[str, LandingZoneStage] = field(default_factory=dict)
    replicas: dict[str, ReplicationArtifactsStack] = field(default_factory=dict)
    pipeline: PipelineStack | None = None
    github: GitHubOidcStack | None = None


def build_delivery(
    scope: Construct, delivery: DeliveryConfig, *, selector: str, prepare_stage: Callable[[Stage], None]
) -> Delivery:
    """Every environment in its Stage (stage ID = environment name), then the pipeline and the OIDC stack.

    `selector` is the `-c delivery=` value the pipeline's synth step passes again.
    `prepare_stage` runs on each finished Stage before the pipeline takes it: adding a stage to
    a CDK pipeline synthesizes its templates there and then (compliance.gate.prepare_stage).
    """
    built = Delivery(config=delivery)
    for entry in delivery.environments:
        name = entry.config.name
        built.stages[name] = LandingZoneStage(scope, name, delivery=delivery, environment=name)
        prepare_stage(built.stages[name])
    region = delivery.tooling.region
    stage_regions = sorted({r for entry in delivery.environments for r in entry.config.regions} - {region})
    for other in stage_regions:
        built.replicas[other] = ReplicationArtifactsStack(
            scope, delivery_stack_name("Artifacts", other), delivery=delivery, region=other
        )
    built.pipeline = PipelineStack(
        scope,
        delivery_stack_name("Pipeline", region),
        delivery=delivery,
        selector=selector,
        stages=built.stages,
        replicas=built.replicas,
    )
    if delivery.github_oidc.enabled:
        built.github = GitHubOidcStack(scope, delivery_stack_name("GitHubOidc", region), delivery=delivery)
    # The tooling account's roles get a boundary too (PCI4-IAM-PERMISSIONS-BOUNDARY): each tooling
    # stack its own copy, so the OIDC stack deploys without the pipeline stack and vice versa.
    deployer_names = {
        built.pipeline: list(built.pipeline.pipeline.deployer_role_names.values()),
        built.github: [deploy_role_name(e) for e in built.github.roles.roles] if built.github is not None else [],
    }
    for stack, label in ((built.pipeline, "delivery"), (built.github, "delivery-github")):
        if stack is not None:
            # The roles of this stack that deploy, by exact name: they alone may assume and pass the CDK
            # bootstrap roles (a wildcard would also exempt any new role named like them).
            iam_arn = f"arn:{stack.partition}:iam::{stack.account}"
            deployers = tuple(f"{iam_arn}:role/{name}" for name in deployer_names[stack])
            boundary = PermissionsBoundary(
                stack, "PermissionsBoundary", environment=label, regions=(region,), bootstrap_role_users=deployers
            )
            Aspects.of(stack).add(PermissionsBoundaryAspect(boundaries={region: boundary}))
    Tags.of(scope).add("project", "pci-dss-landing-zone")
    return built
