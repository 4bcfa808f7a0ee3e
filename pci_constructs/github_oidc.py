"""GitHub Actions deploy roles assumed with OpenID Connect: no stored AWS keys (PCI DSS 8.3.1, 8.6.2).

One IAM OIDC provider for `token.actions.githubusercontent.com` (or an existing one)
and one role per environment. Each role trusts only tokens GitHub issues to a job of
the named repository running in the named GitHub environment
(`sub` = `repo:OWNER/NAME:environment:ENV`, `aud` = `sts.amazonaws.com`), lasts at most
an hour, and may do one thing: assume that environment's CDK bootstrap roles
(deploy, file/image publishing, lookup) in its account and regions. CloudFormation
then deploys with the bootstrap execution role, as `cdk deploy` does.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from aws_cdk import Duration, Stack
from aws_cdk import aws_iam as iam
from constructs import Construct

GITHUB_OIDC_URL = "https://token.actions.githubusercontent.com"
GITHUB_OIDC_HOST = "token.actions.githubusercontent.com"
STS_AUDIENCE = "sts.amazonaws.com"
# The default qualifier of `cdk bootstrap` and the roles it creates in each account and region.
BOOTSTRAP_QUALIFIER = "hnb659fds"
BOOTSTRAP_ROLE_KINDS = ("deploy", "file-publishing", "image-publishing", "lookup")
MAX_SESSION = Duration.hours(1)


def deploy_role_name(environment: str) -> str:
    """The IAM role name `.github/workflows/deploy.yml` assumes for `environment`."""
    return f"pci-lz-github-deploy-{environment}"


def github_subject(repository: str, environment: str) -> str:
    """The `sub` claim of a job in a GitHub environment ("About security hardening with OpenID Connect", GitHub)."""
    return f"repo:{repository}:environment:{environment}"


def bootstrap_role_arns(partition: str, account: str, regions: Sequence[str]) -> list[str]:
    """`arn:<partition>:iam::<account>:role/cdk-hnb659fds-<kind>-role-<account>-<region>`, every kind and region."""
    return [
        f"arn:{partition}:iam::{account}:role/cdk-{BOOTSTRAP_QUALIFIER}-{kind}-role-{account}-{region}"
        for region in regions
        for kind in BOOTSTRAP_ROLE_KINDS
    ]


@dataclass(frozen=True)
class DeployTarget:
    """Where one GitHub environment deploys: the AWS account and the regions of its stacks."""

    account: str
    regions: tuple[str, ...]


class GitHubDeployRoles(Construct):
    """The provider and one deploy role per GitHub environment.

    `targets` maps GitHub environment names to their DeployTarget. Attributes:
    `provider_arn` (str), `roles` (environment name -> iam.Role).
    """

    provider_arn: str
    roles: dict[str, iam.Role]

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        repository: str,
        targets: Mapping[str, DeployTarget],
        existing_provider_arn: str | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        if existing_provider_arn is None:
            # "Create an OpenID Connect (OIDC) identity provider in IAM": for GitHub, IAM trusts the
            # provider through its own library of root certificate authorities, so no thumbprint is
            # configured (CloudFormation's ThumbprintList is optional). The native resource needs no
            # custom-resource Lambda, unlike iam.OpenIdConnectProvider.
            provider = iam.OidcProviderNative(self, "Provider", url=GITHUB_OIDC_URL, client_ids=[STS_AUDIENCE])
            self.provider_arn = provider.oidc_provider_arn
        else:
            self.provider_arn = existing_provider_arn
        partition = Stack.of(self).partition
        self.roles = {}
        for environment, target in targets.items():
            role = iam.Role(
                self,
                f"Deploy-{environment}",
                role_name=deploy_role_name(environment),
                description=f"GitHub Actions deploys {environment} of {repository} (CDK bootstrap roles only)",
                max_session_duration=MAX_SESSION,
                # "Configuring a role for GitHub OIDC identity provider" (IAM User Guide): aud and sub pinned.
                assumed_by=iam.WebIdentityPrincipal(
                    self.provider_arn,
                    conditions={
                        "StringEquals": {
                            f"{GITHUB_OIDC_HOST}:aud": STS_AUDIENCE,
                            f"{GITHUB_OIDC_HOST}:sub": github_subject(repository, environment),
                        }
                    },
                ),
            )
            iam.ManagedPolicy(
                self,
                f"AssumeBootstrapRoles-{environment}",
                description=f"Only sts:AssumeRole on the CDK bootstrap roles of {target.account}",
                roles=[role],
                statements=[
                    iam.PolicyStatement(
                        sid="AssumeCdkBootstrapRoles",
                        actions=["sts:AssumeRole"],
                        resources=bootstrap_role_arns(partition, target.account, target.regions),
                    )
                ],
            )
            self.roles[environment] = role
