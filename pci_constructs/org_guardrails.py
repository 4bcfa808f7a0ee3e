"""Organization guardrails: service control policies from the management account (PCI DSS 7.2, 8.2, 10.2, 11.5).

Native `AWS::Organizations::Policy` resources ("AWS::Organizations::Policy", CloudFormation
Template Reference: only the management account or a delegated administrator can create them, and
the SERVICE_CONTROL_POLICY type must be enabled in the organization first). Each policy stays under
the 5,120-character SCP quota, so the statements are split into three policies:

- `protect-controls`: nobody in the targets leaves the organization or switches off the trail,
  Config, GuardDuty, Security Hub, IAM Access Analyzer, EBS encryption by default (or its default
  key) or S3 Block Public Access;
- `deny-root`: the root user does nothing (break-glass goes through the operator role);
- `region-guard`: nothing outside the allowed regions, except the global services whose calls
  are served from us-east-1 (the NotAction list follows the AWS Organizations user guide example
  "Deny access to AWS based on the requested AWS Region").

Every statement but the root deny exempts the principals named in `exempt_principal_patterns`
(by default the CDK CloudFormation execution role that deploys the landing zone, which must update
the trail, Config and the guards) and the landing zone's own account-guard roles.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from aws_cdk import aws_organizations as organizations
from constructs import Construct

from pci_constructs.permissions_boundary import EBS_DEFAULT_GUARD_ACTIONS

SCP_MAX_CHARACTERS = 5120

# Global services (and the global calls of regional ones) that a region guard must not block.
GLOBAL_SERVICE_ACTIONS = (
    "a4b:*",
    "access-analyzer:*",
    "account:*",
    "acm:*",
    "aws-marketplace-management:*",
    "aws-marketplace:*",
    "aws-portal:*",
    "budgets:*",
    "ce:*",
    "chime:*",
    "cloudfront:*",
    "config:*",
    "cur:*",
    "directconnect:*",
    "ec2:DescribeRegions",
    "ec2:DescribeTransitGateways",
    "ec2:DescribeVpnGateways",
    "fms:*",
    "globalaccelerator:*",
    "health:*",
    "iam:*",
    "importexport:*",
    "kms:*",
    "mobileanalytics:*",
    "networkmanager:*",
    "organizations:*",
    "pricing:*",
    "route53:*",
    "route53domains:*",
    "route53-recovery-cluster:*",
    "route53-recovery-control-config:*",
    "route53-recovery-readiness:*",
    "s3:GetAccountPublic*",
    "s3:ListAllMyBuckets",
    "s3:ListMultiRegionAccessPoints",
    "s3:PutAccountPublic*",
    "shield:*",
    "sso:*",
    "sts:*",
    "support:*",
    "trustedadvisor:*",
    "waf-regional:*",
    "waf:*",
    "wafv2:*",
    "wellarchitected:*",
)


# Creating, re-trusting or widening a role (and removing its boundary): each on the role resource type.
EXEMPT_ROLE_CLAIM_ACTIONS = (
    "iam:AttachRolePolicy",
    "iam:CreateRole",
    "iam:DeleteRole",
    "iam:DeleteRolePermissionsBoundary",
    "iam:PutRolePermissionsBoundary",
    "iam:PutRolePolicy",
    "iam:UpdateAssumeRolePolicy",
    "iam:UpdateRole",
)


@dataclass(frozen=True)
class GuardrailStatement:
    """One SCP statement and the PCI DSS v4.0.1 requirement it serves."""

    sid: str
    requirement: str
    actions: tuple[str, ...]
    not_actions: bool = False
    exempt: bool = True
    extra_condition: tuple[tuple[str, str, Any], ...] = ()
    on_exempt_roles: bool = False  # Resource: the exempt role patterns themselves, not "*"

    def render(self, exempt_patterns: Sequence[str]) -> dict[str, Any]:
        conditions: dict[str, dict[str, Any]] = {}
        for operator, key, value in self.extra_condition:
            conditions.setdefault(operator, {})[key] = value
        if self.exempt and exempt_patterns:
            conditions.setdefault("ArnNotLike", {})["aws:PrincipalArn"] = list(exempt_patterns)
        statement: dict[str, Any] = {
            "Sid": self.sid,
            "Effect": "Deny",
            ("NotAction" if self.not_actions else "Action"): list(self.actions),
            "Resource": list(exempt_patterns) if self.on_exempt_roles and exempt_patterns else "*",
        }
        if conditions:
            statement["Condition"] = conditions
        return statement


def protect_controls_statements() -> tuple[GuardrailStatement, ...]:
    return (
        # 10.2.1 / 12.5.2: an account that leaves the organization leaves its trail and guardrails.
        GuardrailStatement("DenyLeavingOrganization", "10.2.1, 12.5.2", ("organizations:LeaveOrganization",)),
        # 10.2.1, 10.3.2, 10.7.2: audit logs are always on and their trail is not altered.
        GuardrailStatement(
            "DenyTrailChanges",
            "10.2.1, 10.3.2, 10.7.2",
            (
                "cloudtrail:DeleteTrail",
                "cloudtrail:PutEventSelectors",
                "cloudtrail:StopLogging",
                "cloudtrail:UpdateTrail",
            ),
        ),
        # 10.7.2, 11.5.2: configuration recording and change detection stay on.
        GuardrailStatement(
            "DenyConfigChanges",
            "10.7.2, 11.5.2",
            (
                "config:DeleteConfigurationRecorder",
                "config:DeleteConformancePack",
                "config:DeleteDeliveryChannel",
                "config:StopConfigurationRecorder",
            ),
        ),
        # 11.5.1: intrusion detection (GuardDuty) stays on.
        GuardrailStatement(
            "DenyGuardDutyChanges",
            "11.5.1",
            (
                "guardduty:DeleteDetector",
                "guardduty:DisassociateFromAdministratorAccount",
                "guardduty:DisassociateFromMasterAccount",
                "guardduty:StopMonitoringMembers",
                "guardduty:UpdateDetector",
            ),
        ),
        # 10.4.1.1, 11.5.1: automated review of security events (Security Hub) stays on.
        GuardrailStatement(
            "DenySecurityHubChanges",
            "10.4.1.1, 11.5.1",
            (
                "securityhub:BatchDisableStandards",
                "securityhub:DisableSecurityHub",
                "securityhub:DisassociateFromAdministratorAccount",
                "securityhub:DisassociateFromMasterAccount",
            ),
        ),
        # 1.3.1, 7.2.4: external and unused access keeps being analysed.
        GuardrailStatement("DenyAccessAnalyzerChanges", "1.3.1, 7.2.4", ("access-analyzer:DeleteAnalyzer",)),
        # 3.5.1: stored data stays encrypted, under the region's own default key (the same actions the
        # permissions boundary keeps for the EBS guard role, pci_constructs/permissions_boundary.py).
        GuardrailStatement("DenyEbsEncryptionOff", "3.5.1", EBS_DEFAULT_GUARD_ACTIONS),
        # 1.3.1, 1.4.4: no public storage.
        GuardrailStatement("DenyS3PublicAccessBlockChanges", "1.3.1, 1.4.4", ("s3:PutAccountPublicAccessBlock",)),
        # 7.2.2, 8.2.2: the exemptions above go by role name (aws:PrincipalArn). A principal without the
        # landing zone's boundary (an Identity Center permission set) that created, re-trusted or widened a role
        # of an exempt name would claim them; only an exempt role itself (CloudFormation's execution role, which
        # creates the guard roles) may. Every action acts on the role resource type ("Actions, resources, and
        # condition keys for AWS Identity and Access Management", Service Authorization Reference). The CDK
        # bootstrap creates `cdk-*-cfn-exec-role-*` with the caller's own credentials, so an account is
        # bootstrapped before it joins a guarded OU, or by an exempt principal (README, Organization guardrails).
        GuardrailStatement("DenyExemptRoleClaims", "7.2.2, 8.2.2", EXEMPT_ROLE_CLAIM_ACTIONS, on_exempt_roles=True),
    )


# 8.2.2, 8.6.1: no shared, interactive root use; operators use named roles.
DENY_ROOT = GuardrailStatement(
    "DenyRootUser",
    "8.2.2, 8.6.1",
    ("*",),
    exempt=False,
    extra_condition=(("StringLike", "aws:PrincipalArn", "arn:*:iam::*:root"),),
)


def region_guard(allowed_regions: Sequence[str]) -> GuardrailStatement:
    # 1.2.1, 12.5.2: nothing runs outside the regions the CDE's scope and controls cover.
    return GuardrailStatement(
        "DenyOutsideAllowedRegions",
        "1.2.1, 12.5.2",
        GLOBAL_SERVICE_ACTIONS,
        not_actions=True,
        extra_condition=(("StringNotEquals", "aws:RequestedRegion", list(allowed_regions)),),
    )


def policy_document(statements: Sequence[GuardrailStatement], exempt_patterns: Sequence[str]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": [s.render(exempt_patterns) for s in statements]}


class OrganizationGuardrails(Construct):
    """The three SCPs, attached to `target_ids` (OU or root IDs). ValueError when a policy exceeds the quota."""

    policies: dict[str, organizations.CfnPolicy]

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        name_prefix: str,
        target_ids: Sequence[str],
        allowed_regions: Sequence[str],
        exempt_principal_patterns: Sequence[str],
    ) -> None:
        super().__init__(scope, construct_id)
        if not target_ids:
            raise ValueError("target_ids: name at least one organizational unit or root")
        if not allowed_regions:
            raise ValueError("allowed_regions: name at least one region")
        documents = {
            "protect-controls": (protect_controls_statements(), "Keep the PCI landing zone's controls switched on"),
            "deny-root": ((DENY_ROOT,), "No root-user activity in member accounts"),
            "region-guard": ((region_guard(allowed_regions),), "No activity outside the landing zone's regions"),
        }
        self.policies = {}
        for name, (statements, description) in documents.items():
            content = policy_document(statements, exempt_principal_patterns)
            size = len(_compact(content))
            if size > SCP_MAX_CHARACTERS:
                raise ValueError(f"SCP {name} is {size} characters; AWS Organizations accepts {SCP_MAX_CHARACTERS}")
            requirements = "; ".join(f"{s.sid}: PCI DSS {s.requirement}" for s in statements)
            self.policies[name] = organizations.CfnPolicy(
                self,
                "".join(part.title() for part in name.split("-")),
                name=f"{name_prefix}-{name}",
                type="SERVICE_CONTROL_POLICY",
                description=f"{description} ({requirements})"[:512],
                content=content,
                target_ids=list(target_ids),
            )


def _compact(content: dict[str, Any]) -> str:
    return json.dumps(content, separators=(",", ":"))
