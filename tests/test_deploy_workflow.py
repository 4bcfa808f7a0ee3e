"""GitHub Actions delivery: the OIDC stack's deploy roles and .github/workflows/deploy.yml agree.

The workflow is not run here (no GitHub, no AWS); what can be checked offline is: every job's
GitHub environment has a deploy role trusted for exactly that environment, the role names the
workflow assumes are the stack's, the commands are the README's, and actions are pinned.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
import yaml

from pci_constructs.github_oidc import BOOTSTRAP_ROLE_KINDS, deploy_role_name, github_subject
from stacks.delivery import delivery_stack_name
from tests.conftest import ROOT, Delivered
from tests.test_workflow import _SHA_PIN, readme_commands

DEPLOY_WORKFLOW = ROOT / ".github" / "workflows" / "deploy.yml"
PR_WORKFLOW = ROOT / ".github" / "workflows" / "pr.yml"
OIDC_STACK = delivery_stack_name("GitHubOidc", "us-east-1")
REPOSITORY = "example-org/pci-dss-landing-zone"


def _workflow() -> dict[Any, Any]:
    data: dict[Any, Any] = yaml.safe_load(DEPLOY_WORKFLOW.read_text(encoding="utf-8"))
    return data


def _deploy_jobs() -> dict[str, dict[str, Any]]:
    return {name: job for name, job in _workflow()["jobs"].items() if "environment" in job}


def _uses(job: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {str(s["uses"]).split("@")[0]: s for s in job["steps"] if "uses" in s}


def _roles(delivered: Delivered) -> dict[str, dict[str, Any]]:
    """GitHub environment -> the deploy role's properties, read from its trust policy's `sub`."""
    roles = {}
    for role in delivered.template(OIDC_STACK).find_resources("AWS::IAM::Role").values():
        (statement,) = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
        sub = statement["Condition"]["StringEquals"]["token.actions.githubusercontent.com:sub"]
        roles[sub.rsplit(":environment:", 1)[1]] = role["Properties"]
    return roles


def test_every_deploy_job_has_a_role_trusted_for_its_environment_and_no_other(delivered: Delivered) -> None:
    environments = {job["environment"] for job in _deploy_jobs().values()}
    assert environments == set(_roles(delivered)) == {e.config.name for e in delivered.config.environments}


def test_jobs_assume_the_role_the_stack_creates_for_their_environment(delivered: Delivered) -> None:
    roles = _roles(delivered)
    for job in _deploy_jobs().values():
        environment = job["environment"]
        credentials = _uses(job)["aws-actions/configure-aws-credentials"]["with"]
        assert credentials["role-to-assume"].endswith(f":role/{deploy_role_name(environment)}")
        assert credentials["role-to-assume"].startswith("arn:aws:iam::${{ vars.TOOLING_ACCOUNT_ID }}:")
        assert roles[environment]["RoleName"] == deploy_role_name(environment)
        assert int(credentials["role-duration-seconds"]) <= roles[environment]["MaxSessionDuration"] == 3600
        assert job["permissions"] == {"contents": "read", "id-token": "write"}


def test_role_trust_pins_repository_environment_and_audience(delivered: Delivered) -> None:
    for environment, role in _roles(delivered).items():
        (statement,) = role["AssumeRolePolicyDocument"]["Statement"]
        assert statement["Action"] == "sts:AssumeRoleWithWebIdentity"
        assert statement["Effect"] == "Allow"
        assert statement["Condition"] == {
            "StringEquals": {
                "token.actions.githubusercontent.com:aud": "sts.amazonaws.com",
                "token.actions.githubusercontent.com:sub": github_subject(REPOSITORY, environment),
            }
        }
        assert "Ref" in statement["Principal"]["Federated"]  # the provider of this stack


def test_roles_may_only_assume_their_accounts_bootstrap_roles(delivered: Delivered) -> None:
    template = delivered.template(OIDC_STACK)
    policies = {
        logical_id: policy
        for logical_id, policy in template.find_resources("AWS::IAM::ManagedPolicy").items()
        if "/PermissionsBoundary/" not in policy["Metadata"]["aws:cdk:path"]  # the boundary grants nothing
    }
    assert not template.find_resources("AWS::IAM::Policy")  # no inline policies
    accounts = {e.config.name: e.config for e in delivered.config.environments}
    assert len(policies) == len(accounts)
    for policy in policies.values():
        (statement,) = policy["Properties"]["PolicyDocument"]["Statement"]
        assert statement["Action"] == "sts:AssumeRole"
        resources = statement["Resource"]
        account = resources[0].split(":")[4]
        config = next(c for c in accounts.values() if c.account == account)
        assert sorted(resources) == sorted(
            f"arn:aws:iam::{account}:role/cdk-hnb659fds-{kind}-role-{account}-{region}"
            for kind in BOOTSTRAP_ROLE_KINDS
            for region in config.regions
        )


def test_oidc_provider_is_native_with_the_sts_audience_and_no_thumbprint(delivered: Delivered) -> None:
    template = delivered.template(OIDC_STACK)
    (provider,) = template.find_resources("AWS::IAM::OIDCProvider").values()
    assert provider["Properties"]["Url"] == "https://token.actions.githubusercontent.com"
    assert provider["Properties"]["ClientIdList"] == ["sts.amazonaws.com"]
    assert "ThumbprintList" not in provider["Properties"]
    assert not template.find_resources("AWS::Lambda::Function")  # no custom-resource provider
    outputs = template.find_outputs("*")
    assert {json.dumps(o["Value"]) for o in outputs.values()}  # role ARNs for the GitHub environments


def test_deploy_runs_the_readme_commands_in_promotion_order() -> None:
    jobs = _workflow()["jobs"]
    runs = {
        name: [line.strip() for s in job["steps"] if "run" in s for line in str(s["run"]).splitlines() if line.strip()]
        for name, job in jobs.items()
    }
    assert runs["synth"] == ["make synth DELIVERY=${{ vars.DELIVERY_CONFIG }}"]
    for name, job in _deploy_jobs().items():
        assert runs[name] == [f"make deploy DELIVERY=${{{{ vars.DELIVERY_CONFIG }}}} STAGE={job['environment']}"]
    assert jobs["deploy-preprod"]["needs"] == "synth"
    assert jobs["deploy-prod"]["needs"] == "deploy-preprod"
    documented = readme_commands()
    assert {" ".join(c.split()[:2]) for cmds in runs.values() for c in cmds} <= documented


def test_deploy_actions_are_pinned_like_the_pull_request_workflow() -> None:
    text = DEPLOY_WORKFLOW.read_text(encoding="utf-8")
    uses = re.findall(r"uses: (\S+)", text)
    assert uses
    assert all(_SHA_PIN.match(u) for u in uses)
    for action in uses:
        assert re.search(rf"{re.escape(action)} # v\d+\.\d+\.\d+", text), action
    pr = PR_WORKFLOW.read_text(encoding="utf-8")
    shared = {u.split("@")[0] for u in uses} & {u.split("@")[0] for u in re.findall(r"uses: (\S+)", pr)}
    for name in shared:  # the same action is the same commit in both workflows
        assert {u for u in uses if u.startswith(name + "@")} == {
            u for u in re.findall(r"uses: (\S+)", pr) if u.startswith(name + "@")
        }


@pytest.mark.parametrize("field", ["workflow_dispatch", "push"])
def test_deploy_starts_on_main_or_by_hand(field: str) -> None:
    triggers = _workflow()[True]  # YAML 1.1 reads the key `on` as True
    assert field in triggers
    assert triggers["push"]["branches"] == ["main"]
    assert _workflow()["concurrency"]["cancel-in-progress"] is False
