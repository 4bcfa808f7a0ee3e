"""Least privilege in IAM (PCI DSS v4.0.1 7.2.1, 7.2.2, 8.2.2)."""

from collections.abc import Iterator

from pci_rules.model import TemplateModel
from pci_rules.rule import Check, rule
from pci_rules.rules._common import (
    IAM_IDENTITY_TYPES,
    allows_anyone,
    as_list,
    identity_policy_documents,
    managed_policy_arns,
    statements,
)

# AWS managed policies that grant administrative or IAM-wide power.
ADMIN_POLICIES = ("AdministratorAccess", "PowerUserAccess", "IAMFullAccess", "AWSOrganizationsFullAccess")
AWS_MANAGED_MARKER = ":iam::aws:policy/"


def _admin_actions(actions: list[object]) -> list[str]:
    return [str(a) for a in actions if a in ("*", "*:*")]


@rule(
    id="PCI4-IAM-NO-STAR-ACTIONS",
    requirements=("7.2.1", "7.2.2"),
    description="No IAM identity policy allows `*` actions (or NotAction, which grants everything else).",
    fix="List the actions the principal needs; never Action '*' or an Allow with NotAction.",
)
def iam_no_star_actions(model: TemplateModel) -> Iterator[Check]:
    for identity in model.resources(*IAM_IDENTITY_TYPES):
        bad = [
            statement.get("Sid", "?")
            for document in identity_policy_documents(identity)
            for statement in statements(document)
            if statement.get("Effect") == "Allow"
            and (_admin_actions(as_list(statement.get("Action"))) or "NotAction" in statement)
        ]
        yield Check(identity, not bad, f"statements {bad} allow every action" if bad else "")


@rule(
    id="PCI4-IAM-NO-ADMIN-POLICY",
    requirements=("7.2.1", "7.2.2"),
    description="No role, user or group has an AWS managed admin policy (AdministratorAccess, PowerUserAccess...).",
    fix="Replace the managed admin policy with a customer-managed policy of the actions needed.",
)
def iam_no_admin_policy(model: TemplateModel) -> Iterator[Check]:
    for identity in model.resources("AWS::IAM::Role", "AWS::IAM::User", "AWS::IAM::Group"):
        bad = [a for a in managed_policy_arns(identity) if a.rsplit("/", 1)[-1] in ADMIN_POLICIES]
        yield Check(identity, not bad, f"admin policies {bad}" if bad else "")


@rule(
    id="PCI4-IAM-NO-AWS-MANAGED-POLICY",
    requirements=("7.2.1", "7.2.2"),
    description="Roles, users and groups use customer-managed or inline policies, not AWS managed ones.",
    fix="Write a customer-managed policy with the needed actions; acknowledge an AWS managed one with a reason.",
)
def iam_no_aws_managed_policy(model: TemplateModel) -> Iterator[Check]:
    for identity in model.resources("AWS::IAM::Role", "AWS::IAM::User", "AWS::IAM::Group"):
        managed = [a.rsplit("/", 1)[-1] for a in managed_policy_arns(identity) if AWS_MANAGED_MARKER in a]
        yield Check(identity, not managed, f"AWS managed policies {managed}" if managed else "")


@rule(
    id="PCI4-IAM-NO-USERS",
    requirements=("8.2.1", "8.2.2", "8.3.1"),
    description="No IAM users: people sign in through an identity provider with MFA, workloads use roles.",
    fix="Remove the AWS::IAM::User; use IAM Identity Center or a federated role instead.",
    absence=True,
)
def iam_no_users(model: TemplateModel) -> Iterator[Check]:
    for user in model.resources("AWS::IAM::User", "AWS::IAM::AccessKey"):
        yield Check(user, False, "IAM user or long-term access key")


@rule(
    id="PCI4-IAM-TRUST-SCOPED",
    requirements=("7.2.1",),
    related=("8.2.2",),
    description="No role trust policy lets any principal (`*`) assume the role without a condition.",
    fix="Name the principals that may assume the role, or add aws:PrincipalOrgID/aws:SourceArn conditions.",
)
def iam_trust_scoped(model: TemplateModel) -> Iterator[Check]:
    for role in model.resources("AWS::IAM::Role"):
        bad = [s.get("Sid", "?") for s in statements(role.prop("AssumeRolePolicyDocument")) if allows_anyone(s)]
        yield Check(role, not bad, f"anyone may assume it: {bad}" if bad else "")


def _service_wildcards(actions: list[object]) -> list[str]:
    """`service:*` actions (every action of one service); `*` and `*:*` are the rule above's."""
    return [str(a) for a in actions if isinstance(a, str) and a.endswith(":*") and a != "*:*"]


@rule(
    id="PCI4-IAM-NO-SERVICE-WILDCARD",
    requirements=("7.2.1", "7.2.2"),
    description="No IAM identity policy allows every action of a service (`s3:*`, `kms:*`...).",
    fix="List the service's actions the principal needs instead of `service:*`.",
)
def iam_no_service_wildcard(model: TemplateModel) -> Iterator[Check]:
    for identity in model.resources(*IAM_IDENTITY_TYPES):
        bad = sorted(
            {
                action
                for document in identity_policy_documents(identity)
                for statement in statements(document)
                if statement.get("Effect") == "Allow"
                for action in _service_wildcards(as_list(statement.get("Action")))
            }
        )
        yield Check(identity, not bad, f"full-service actions {bad}" if bad else "")
