"""Typed, validated description of multi-account delivery (CDK Pipelines and GitHub Actions).

A delivery names a tooling account (where the pipeline and the GitHub OIDC deploy roles
live), the GitHub repository it builds from (through an AWS CodeConnections connection),
the environments it deploys (each a full `EnvironmentConfig`, one account each) and the
waves they are promoted through. Nothing here knows about CDK; a bad delivery is rejected
before a construct is built, with the field named (PCI DSS 6.5.1-6.5.6: change control and
separation of environments).
"""

from __future__ import annotations

import re
from typing import Annotated, Literal, Self

from pydantic import AfterValidator, Field, ValidationInfo, field_validator, model_validator

from config.models import EnvironmentConfig, Region, _Frozen

_ACCOUNT_ID = re.compile(r"^\d{12}$")
# AWS CodeConnections (formerly CodeStar Connections) ARNs; both service prefixes are still issued.
_CONNECTION_ARN = re.compile(
    r"^arn:aws(?:-us-gov)?:(?:codeconnections|codestar-connections):(?P<region>[a-z0-9-]+):(?P<account>\d{12})"
    r":connection/[0-9a-f-]{36}$"
)
_OIDC_PROVIDER_ARN = re.compile(
    r"^arn:aws(?:-us-gov)?:iam::(?P<account>\d{12}):oidc-provider/token\.actions\.githubusercontent\.com$"
)
# GitHub: owner (user or organization) names and repository names.
_GITHUB_OWNER = r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,37}[A-Za-z0-9])?$"
_GITHUB_REPOSITORY = r"^[A-Za-z0-9._-]{1,100}$"
# A git branch name without the characters git-check-ref-format refuses.
_BRANCH = re.compile(r"^(?!/)(?!.*\.\.)(?!.*//)[A-Za-z0-9._/-]{1,200}(?<![/.])$")
# The name the delivery's own stacks carry (PciLz-delivery-Pipeline-<region>); no environment may take it.
DELIVERY_STACK_PREFIX = "delivery"

EnvironmentKind = Literal["pre-production", "production"]


def _check_account(value: str) -> str:
    if not _ACCOUNT_ID.match(value):
        raise ValueError("AWS account ID must be exactly 12 digits")
    return value


AccountId = Annotated[str, AfterValidator(_check_account)]


class ToolingConfig(_Frozen):
    """The account and region of the pipeline, its artifact bucket and the GitHub OIDC roles."""

    account: AccountId
    region: Region


class SourceConfig(_Frozen):
    """The GitHub repository the pipeline builds, reached through an AWS CodeConnections connection."""

    connection_arn: str = Field(
        description=(
            "ARN of an AVAILABLE CodeConnections connection in the tooling account (created in the console:"
            " a connection must be completed by a person in GitHub; CloudFormation creates it PENDING)."
        )
    )
    owner: str = Field(pattern=_GITHUB_OWNER, description="GitHub user or organization.")
    repository: str = Field(pattern=_GITHUB_REPOSITORY, description="GitHub repository name.")
    branch: str = Field(default="main", description="Branch whose pushes start the pipeline.")

    @field_validator("connection_arn")
    @classmethod
    def _connection_arn_shape(cls, value: str) -> str:
        if not _CONNECTION_ARN.match(value):
            raise ValueError(
                "must be a CodeConnections connection ARN:"
                " arn:aws:codeconnections:<region>:<12-digit account>:connection/<uuid>"
            )
        return value

    @field_validator("branch")
    @classmethod
    def _branch_shape(cls, value: str) -> str:
        if not _BRANCH.match(value):
            raise ValueError(f"{value!r} is not a branch name (letters, digits, '._/-', no '..' or '//')")
        return value

    @property
    def connection_account(self) -> str:
        """The account the connection belongs to (from its ARN)."""
        match = _CONNECTION_ARN.match(self.connection_arn)
        assert match is not None  # checked by the field validator
        return match["account"]

    @property
    def full_name(self) -> str:
        """`OWNER/NAME`, as GitHub and CodeConnections spell a repository."""
        return f"{self.owner}/{self.repository}"


class GitHubOidcConfig(_Frozen):
    """Deploy roles for GitHub Actions (`.github/workflows/deploy.yml`), assumed with OIDC, no stored keys."""

    enabled: bool = Field(default=True, description="Synthesize the GitHub OIDC stack in the tooling account.")
    existing_provider_arn: str | None = Field(
        default=None,
        description=(
            "IAM allows one OIDC provider per URL and account: when the tooling account already has"
            " token.actions.githubusercontent.com, name it here and the stack uses it instead of creating one."
        ),
    )

    @field_validator("existing_provider_arn")
    @classmethod
    def _provider_arn_shape(cls, value: str | None) -> str | None:
        if value is not None and not _OIDC_PROVIDER_ARN.match(value):
            raise ValueError(
                "must be arn:aws:iam::<12-digit account>:oidc-provider/token.actions.githubusercontent.com"
            )
        return value


class DeliveryEnvironment(_Frozen):
    """One environment the delivery deploys, and whether it is production."""

    kind: EnvironmentKind
    config: EnvironmentConfig


class StageConfig(_Frozen):
    """One environment deployed in a wave; production stages wait for a manual approval."""

    environment: str = Field(description="`config.name` of one of the delivery's environments.")
    approval: bool = Field(default=False, description="A person approves in CodePipeline before this stage deploys.")


class WaveConfig(_Frozen):
    """Stages deployed in parallel; waves run one after another."""

    name: str = Field(pattern=r"^[A-Za-z][A-Za-z0-9-]{0,40}$")
    stages: tuple[StageConfig, ...] = Field(min_length=1)


class DeliveryConfig(_Frozen):
    """The whole delivery: tooling account, source, environments and the waves they are promoted through."""

    tooling: ToolingConfig
    source: SourceConfig
    environments: tuple[DeliveryEnvironment, ...] = Field(min_length=1)
    waves: tuple[WaveConfig, ...] = Field(min_length=1)
    github_oidc: GitHubOidcConfig = Field(default_factory=GitHubOidcConfig)

    @field_validator("environments")
    @classmethod
    def _one_account_per_environment(
        cls, value: tuple[DeliveryEnvironment, ...], info: ValidationInfo
    ) -> tuple[DeliveryEnvironment, ...]:
        tooling = info.data.get("tooling")
        seen_names: dict[str, int] = {}
        seen_accounts: dict[str, str] = {} if tooling is None else {tooling.account: "tooling"}
        for index, entry in enumerate(value):
            name, account = entry.config.name, entry.config.account
            if name == DELIVERY_STACK_PREFIX:
                raise ValueError(f"{index}.config.name: {name!r} is the name of the delivery's own stacks")
            if name in seen_names:
                raise ValueError(f"{index}.config.name: {name!r} is also environment {seen_names[name]}")
            seen_names[name] = index
            if account in seen_accounts:
                raise ValueError(
                    f"{index}.config.account: {account} is already the account of {seen_accounts[account]};"
                    " each environment needs its own account, apart from the tooling account (PCI DSS 6.5.3)"
                )
            seen_accounts[account] = f"environment {name!r}"
        return value

    @field_validator("waves")
    @classmethod
    def _waves_deploy_each_environment_once(
        cls, value: tuple[WaveConfig, ...], info: ValidationInfo
    ) -> tuple[WaveConfig, ...]:
        environments = info.data.get("environments")
        if environments is None:  # already reported under `environments`
            return value
        kinds = {entry.config.name: entry.kind for entry in environments}
        deployed: dict[str, str] = {}
        for w, wave in enumerate(value):
            for s, stage in enumerate(wave.stages):
                where = f"{w}.stages.{s}"
                kind = kinds.get(stage.environment)
                if kind is None:
                    raise ValueError(
                        f"{where}.environment: unknown environment {stage.environment!r};"
                        f" environments: {', '.join(kinds)}"
                    )
                if stage.environment in deployed:
                    raise ValueError(
                        f"{where}.environment: {stage.environment!r} is already deployed"
                        f" at {deployed[stage.environment]}"
                    )
                deployed[stage.environment] = where
                if kind == "production" and not stage.approval:
                    raise ValueError(
                        f"{where}.approval: production environment {stage.environment!r} needs a manual approval"
                        " (PCI DSS 6.5.1)"
                    )
        missing = [name for name in kinds if name not in deployed]
        if missing:
            raise ValueError(f"environments {missing} are in no wave")
        return value

    @model_validator(mode="after")
    def _promotion_order(self) -> Self:
        """Every pre-production wave before the first production stage: changes are proven before production."""
        kinds = {entry.config.name: entry.kind for entry in self.environments}
        production_seen = None
        for w, wave in enumerate(self.waves):
            wave_kinds = {kinds[stage.environment] for stage in wave.stages}
            if production_seen is not None and "pre-production" in wave_kinds:
                raise ValueError(
                    f"waves.{w}: a pre-production stage after production (waves.{production_seen});"
                    " promote pre-production first"
                )
            if "production" in wave_kinds:
                if "pre-production" in wave_kinds:
                    raise ValueError(f"waves.{w}: mixes pre-production and production stages in one wave")
                production_seen = w
        if self.source.connection_account != self.tooling.account:
            raise ValueError(
                f"source.connection_arn: the connection is in account {self.source.connection_account};"
                f" the pipeline runs in the tooling account {self.tooling.account}"
            )
        provider = self.github_oidc.existing_provider_arn
        if provider is not None and provider.split(":")[4] != self.tooling.account:
            raise ValueError("github_oidc.existing_provider_arn: the provider must be in the tooling account")
        return self

    def environment(self, name: str) -> DeliveryEnvironment:
        """The environment named `name`; KeyError when there is none."""
        for entry in self.environments:
            if entry.config.name == name:
                return entry
        raise KeyError(name)
