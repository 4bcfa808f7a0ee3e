"""A permissions boundary on every IAM role and user the landing zone creates (PCI DSS 7.2.1, 7.2.2, 10.3.2).

A permissions boundary caps what a principal's identity policies can grant: the effective
permissions are the intersection of the two ("Permissions boundaries for IAM entities", IAM
User Guide). This boundary allows everything except privilege escalation and the switching off
of security controls, so it never takes away what a role legitimately needs (flow-log delivery,
rotation, CDK's custom-resource handlers), and a workload role that is granted too much still
cannot:

- change or detach the boundary, or create a role or user without it;
- change the landing zone's own roles (its operator roles and every CloudFormation-named role of
  its stacks), or pass an operator role to a service;
- rewrite a key policy, turn off key rotation or schedule a key's deletion;
- stop, delete or narrow the trail, Config, GuardDuty, Security Hub or IAM Access Analyzer;
- attach the boundary policy itself as an identity policy (it allows `*` on `*`: attached as a
  permissions policy it would be administrator access less its own denies);
- change the account-level guards (S3 Block Public Access, EBS snapshot and AMI public-access
  blocks, IMDS defaults, SSM document sharing, the password policy), except through the landing
  zone's own guard roles, which set them at deploy time; EBS encryption by default and the
  region's default EBS key (`ec2:DisableEbsEncryptionByDefault`, `ec2:ModifyEbsDefaultKmsKeyId`,
  `ec2:ResetEbsDefaultKmsKeyId`) only through the EBS guard role of `EbsDefaultEncryption`
  (`pci-lz-<env>-account-guards-ebs-<region>`), so an EC2 administrator cannot repoint the
  region's default key;
- delete, shorten or re-key the trail's CloudWatch Logs group (`/pci-lz/<env>/cloudtrail`), its
  streams, metric filters and subscription filters, change or silence the alarms on it
  (`pci-lz-<env>-trail-*`), or write data points into their metric namespace (a negative value
  would hide a breach of the alarm threshold);
- disable any key (`kms:DisableKey`, with the key-policy and lifecycle denies, on every key);
- invoke, update, re-permission, re-configure or delete a resource carrying the protection tag
  `pci-lz:protected=true`, or add, change or remove that tag anywhere: CDK's custom-resource
  functions (they run as the guard roles; the Aspect below tags every function a custom resource
  names as its ServiceToken), the security alerts topics and the EventBridge rules to them.

IAM policies are global but each region gets its own copy with a region-qualified name, created
in that region's Keys stack: the Keys stack is the first stack of every region and every other
stack already deploys after it, so a role never names a boundary that does not exist yet, and the
ARN is built from the name (no CloudFormation export ties the stacks together).
`PermissionsBoundaryAspect`, added once per environment on its scope (the App, or its Stage in a
delivery), puts the boundary on every `AWS::IAM::Role` and `AWS::IAM::User` in every stack,
CDK-generated ones included (custom-resource providers, AwsCustomResource and log-retention
singletons: some are raw `CfnResource`s, not `CfnRole`s).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import cast

import jsii
from aws_cdk import Annotations, CfnResource, IAspect, Reference, Stack, Token, Tokenization
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from constructs import Construct, IConstruct

from pci_constructs.justification import justify

PRINCIPAL_TYPES = ("AWS::IAM::Role", "AWS::IAM::User")


def boundary_policy_name(environment: str, region: str) -> str:
    """`pci-lz-<env>-boundary-<region>`: IAM names are account-wide, so the region keeps the copies apart."""
    return f"pci-lz-{environment}-boundary-{region}"


def guard_role_name(environment: str, scope: str) -> str:
    """The roles that set account-level guards at deploy time (exempt from the guard deny below)."""
    return f"pci-lz-{environment}-account-guards-{scope}"


IAM_ROLE_NAME_MAX = 64  # "IAM object quotas", IAM User Guide: role names are at most 64 characters


def ebs_guard_role_name(environment: str, region: str) -> str:
    """The role of the EBS default-encryption SDK calls (`EbsDefaultEncryption`), the only role the
    boundary lets change EBS encryption by default or the default EBS key. IAM names are account-wide,
    so the region keeps the copies of two regions of one account apart; the name is fixed, so it never
    changes with a construct path (renaming a role replaces it)."""
    name = guard_role_name(environment, f"ebs-{region}")
    if len(name) > IAM_ROLE_NAME_MAX:
        raise ValueError(f"environment name: the EBS guard role name {name!r} exceeds {IAM_ROLE_NAME_MAX} characters")
    return name


def conformance_pack_role_name(environment: str, region: str) -> str:
    """The role of the deploy-time calls that create and delete AWS's managed conformance pack in `region`
    (`ManagedConformancePack`), the only role granted putting or deleting a conformance pack; a guard role's
    name, so the boundary (GuardsOnly) and the organization's SCP exemption for guard roles let it."""
    name = guard_role_name(environment, f"pack-{region}")
    if len(name) > IAM_ROLE_NAME_MAX:
        raise ValueError(
            f"environment name: the conformance-pack role name {name!r} exceeds {IAM_ROLE_NAME_MAX} characters"
        )
    return name


def operator_role_name(environment: str, role: str) -> str:
    return f"pci-lz-{environment}-{role}"


# The trail's CloudWatch Logs group, its alarms and their metric namespace: fixed names, so that the
# boundary (created first, in the Keys stack) can name them without a cross-stack reference.
def trail_log_group_name(environment: str) -> str:
    return f"/pci-lz/{environment}/cloudtrail"


def trail_alarm_name_prefix(environment: str) -> str:
    return f"pci-lz-{environment}-trail-"


def protected_alarm_name_prefix(environment: str) -> str:
    """Every alarm named `pci-lz-<env>-...` (the trail's, the card vault's) is out of a boundary role's reach."""
    return f"pci-lz-{environment}-"


def parameter_path(environment: str) -> str:
    """The SSM parameters the landing zone's stacks publish and resolve at deploy (`/pci-lz/<env>/...`)."""
    return f"/pci-lz/{environment}/"


def trail_metric_namespace(environment: str) -> str:
    return f"PciLz/{environment}/Security"


# Stopping or narrowing the detective controls (PCI DSS 10.2, 10.7.2, 11.5).
AUDIT_TAMPERING_ACTIONS = (
    "cloudtrail:DeleteTrail",
    "cloudtrail:PutEventSelectors",
    "cloudtrail:StopLogging",
    "cloudtrail:UpdateTrail",
    "config:DeleteConfigRule",
    "config:DeleteConfigurationRecorder",
    "config:DeleteDeliveryChannel",
    "config:PutConfigurationRecorder",
    "config:StopConfigurationRecorder",
    "guardduty:DeleteDetector",
    "guardduty:DisassociateFrom*",  # ...AdministratorAccount and ...MasterAccount
    "guardduty:UpdateDetector",
    "securityhub:BatchDisableStandards",
    # DisableSecurityHub, DisableImportFindingsForProduct (a product's findings stop arriving) and
    # DisableOrganizationAdminAccount (issue #22, second review).
    "securityhub:Disable*",
    "securityhub:DisassociateFrom*",  # ...AdministratorAccount and ...MasterAccount
    "access-analyzer:ApplyArchiveRule",
    "access-analyzer:CreateArchiveRule",
    "access-analyzer:DeleteAnalyzer",
    "access-analyzer:UpdateArchiveRule",
    # Suppressing what the controls report rather than stopping them (issue #22, review): filters and
    # trusted IP lists that auto-archive GuardDuty findings, the export of findings, control and standard
    # switches, automation rules and manual workflow updates in Security Hub, the Config delivery channel,
    # rules and packs, and Config's retention. Triage of findings (BatchUpdateFindings) is done by the
    # security team's own federated roles (Identity Center), which carry no landing-zone boundary.
    "config:DeleteRetentionConfiguration",
    "config:PutConfigRule",
    "config:PutDeliveryChannel",
    "guardduty:CreateFilter",
    "guardduty:CreateIPSet",
    "guardduty:DeletePublishingDestination",
    "guardduty:UpdateFilter",
    "guardduty:UpdateIPSet",
    "guardduty:UpdatePublishingDestination",
    "securityhub:BatchUpdate*",  # Findings (and V2), StandardsControlAssociations, AutomationRules
    "securityhub:CreateAutomationRule",
    "securityhub:DeleteFindingAggregator",
    "securityhub:UpdateFindingAggregator",
    "securityhub:UpdateS*",  # StandardsControl, SecurityHubConfiguration (auto-enable controls), SecurityControl
    # The account's CloudWatch Logs policies (data protection masking, subscription filters of every group).
    "logs:PutAccountPolicy",
)
BOUNDARY_REMOVAL_ACTIONS = ("iam:DeleteRolePermissionsBoundary", "iam:DeleteUserPermissionsBoundary")
# Key-policy and key-lifecycle changes that would open or destroy encrypted data (PCI DSS 3.6, 3.7).
# kms:DisableKey on every key, not only the alerts and logs keys: no landing-zone role disables a key (a key is
# retired through a reviewed CloudFormation change), and one action on "*" is shorter than a tag on each key.
KEY_TAMPERING_ACTIONS = ("kms:DisableKey", "kms:DisableKeyRotation", "kms:PutKeyPolicy", "kms:ScheduleKeyDeletion")
# Account-level guards; only the landing zone's guard roles set them (PCI DSS 1.3, 1.4, 2.2, 8.3).
ACCOUNT_GUARD_ACTIONS = (
    "ec2:DisableImageBlockPublicAccess",
    "ec2:DisableSnapshotBlockPublicAccess",
    "ec2:EnableSnapshotBlockPublicAccess",
    "ec2:ModifyInstanceMetadataDefaults",
    "iam:DeleteAccountPasswordPolicy",
    "iam:UpdateAccountPasswordPolicy",
    "s3:PutAccountPublicAccessBlock",
    "ssm:ResetServiceSetting",
    "ssm:UpdateServiceSetting",
)
# EBS encryption by default and the region's default EBS key (PCI DSS 3.5.1): only the EBS guard role.
# "Actions, resources, and condition keys for Amazon EC2" (Service Authorization Reference): these act on
# an account setting, no resource type, so Resource "*" and the principal named by aws:PrincipalArn.
EBS_DEFAULT_GUARD_ACTIONS = (
    "ec2:DisableEbsEncryptionByDefault",
    "ec2:ModifyEbsDefaultKmsKeyId",
    "ec2:ResetEbsDefaultKmsKeyId",
)
# Conformance packs (PCI DSS 11.5.2): denied to every boundary-carrying role but the guard roles, of which
# only the role that deploys AWS's managed pack by name (`ManagedConformancePack`, `conformance_pack_role_name`)
# is granted them; CloudFormation's execution role, which carries no boundary, deploys the others. "Actions,
# resources, and condition keys for AWS Config" (Service Authorization Reference): both act on the
# ConformancePack resource type; the principal is named by aws:PrincipalArn (statement GuardsOnly).
CONFORMANCE_PACK_ACTIONS = ("config:DeleteConformancePack", "config:PutConformancePack")
# Attaching a managed policy as an identity policy: the actions iam:PolicyARN applies to ("Actions,
# resources, and condition keys for AWS Identity and Access Management", Service Authorization Reference).
POLICY_ATTACH_ACTIONS = ("iam:AttachGroupPolicy", "iam:AttachRolePolicy", "iam:AttachUserPolicy")
# The trail's log group, its streams and filters ("Actions, resources, and condition keys for Amazon
# CloudWatch Logs": resource types log-group and log-stream, arn:...:log-group:NAME[:log-stream:STREAM]).
TRAIL_LOG_TAMPERING_ACTIONS = (
    "logs:*KmsKey",  # AssociateKmsKey, DisassociateKmsKey
    "logs:Delete*",  # the group, its streams, metric and subscription filters, retention, data protection
    "logs:PutDataProtectionPolicy",  # a masking policy would hide what the trail's metric filters match
    "logs:PutMetricFilter",
    "logs:PutRetentionPolicy",
    "logs:PutSubscriptionFilter",
)
# The trail's alarms ("Actions, resources, and condition keys for Amazon CloudWatch": resource type
# alarm, arn:...:cloudwatch:REGION:ACCOUNT:alarm:NAME).
TRAIL_ALARM_TAMPERING_ACTIONS = (
    "cloudwatch:DeleteAlarms",
    "cloudwatch:DisableAlarmActions",
    "cloudwatch:PutMetricAlarm",
    "cloudwatch:SetAlarmState",
)
# The SSM parameters a stack resolves at deploy (`/pci-lz/<env>/alerts/topic-arn`, `.../database/proxy-*`): a
# rewritten value would point the Workload stack at another topic or proxy on its next update ("Actions,
# resources, and condition keys for AWS Systems Manager", Service Authorization Reference: resource type
# parameter, arn:...:ssm:REGION:ACCOUNT:parameter/NAME without the leading slash).
PARAMETER_TAMPERING_ACTIONS = ("ssm:DeleteParameter*", "ssm:LabelParameterVersion", "ssm:PutParameter")
# The log archive bucket and its replica (`pcilz-<env>-logs-<account>-<region>`): its policy is what lets
# CloudTrail and Config deliver and what denies deletes; its Object Lock, lifecycle and replication are the
# retention ("Actions, resources, and condition keys for Amazon S3", Service Authorization Reference: all five
# act on the bucket resource type, arn:...:s3:::BUCKET).
ARCHIVE_TAMPERING_ACTIONS = (
    "s3:DeleteBucketPolicy",
    "s3:PutBucketObjectLockConfiguration",
    "s3:PutBucketPolicy",
    "s3:PutLifecycleConfiguration",
    "s3:PutReplicationConfiguration",
)
# The protection tag: on CDK's custom-resource functions (PermissionsBoundaryAspect tags every function a custom
# resource names as its ServiceToken) and on the security alert path (the alerts topics, `alarm_topic`, and the
# EventBridge rules to them, `rule_to_topic`). One key, set only by CloudFormation: the boundary denies its change.
PROTECTED_TAG_KEY = "pci-lz:protected"
PROTECTED_TAG_VALUE = "true"
# The card vault's functions (security review r27, H1): their roles are the cardholder-data key's one exception, so
# whoever changes a function's code, configuration, versions, aliases or resource policy decrypts as the vault.
# `code` protects them from every change (NoCodeChange) and leaves invoking to each function's own resource policy
# and its callers' identity policies: the detokenize callers and the migration's trigger provider must invoke.
CODE_PROTECTED_TAG_VALUE = "code"
# What the boundary denies on a resource carrying the protection tag (aws:ResourceTag/pci-lz:protected = true), one
# statement across services. Each action below is authorized on the tagged resource with aws:ResourceTag:
# - Lambda, "Resources and conditions for Lambda actions" (Lambda Developer Guide, "Function actions"):
#   AddPermission, RemovePermission, InvokeFunction, UpdateFunctionCode/-Configuration, UpdateAlias, PutFunction-
#   Concurrency, DeleteFunction(Concurrency), Put/DeleteProvisionedConcurrencyConfig, PutFunctionCodeSigningConfig.
#   Function URLs: Create/UpdateFunctionUrlConfig take no aws:ResourceTag (the key is absent, so this deny does not
#   reach them), but a URL call also needs lambda:InvokeFunction ("Control access to Lambda function URLs", since
#   October 2025) and a public URL a resource-policy statement (AddPermission): both denied here.
# - SNS, "Actions, resources, and condition keys for Amazon SNS" (Service Authorization Reference): the topic
#   resource type carries aws:ResourceTag; DeleteTopic, SetTopicAttributes (key, policy, delivery), Add/Remove-
#   Permission, PutDataProtectionPolicy (a deny-on-match policy would drop alerts). Unsubscribe and
#   SetSubscriptionAttributes act on a subscription, which takes no tags ("Amazon SNS API permissions: Actions and
#   resources reference", SNS Developer Guide, lists neither among the topic's actions): not covered.
# - EventBridge, "Tag-based policies in Amazon EventBridge" (EventBridge User Guide): rules carry
#   aws:ResourceTag; DeleteRule, DisableRule, PutRule, PutTargets, RemoveTargets.
PROTECTED_RESOURCE_ACTIONS = (
    "lambda:Invoke*",
    "sns:*Permission",
    "sns:DeleteTopic",
    "sns:PutDataProtectionPolicy",
    "sns:SetTopicAttributes",
    "events:DeleteRule",
    "events:DisableRule",
    "events:PutRule",
    "events:PutTargets",
    "events:RemoveTargets",
)
# What the boundary denies on a function carrying the protection tag with either value (`true` or `code`): every
# change to what the function runs or who may invoke it. Lambda's "Function actions" (above) authorize these on
# the function with aws:ResourceTag: AddPermission/RemovePermission (`*Permission`; the layer-version forms act on
# layers, untagged), Update* (code, configuration, alias, event invoke config, URL config), Put*/Delete*
# (concurrency, provisioned concurrency, code signing, event invoke config, the function), PublishVersion and
# CreateAlias (a version of changed code behind a new alias). No read action (Get*, List*) is among them.
PROTECTED_FUNCTION_CHANGE_ACTIONS = (
    "lambda:*Permission",
    "lambda:CreateAlias",
    "lambda:Delete*",
    "lambda:Publish*",
    "lambda:Put*",
    "lambda:Update*",
)
# Adding, changing or removing the protection tag on any resource: TagResource and UntagResource (`*TagResource`)
# take aws:TagKeys in Lambda ("Function actions", above), SNS and EventBridge (Service Authorization Reference).
PROTECTION_TAG_ACTIONS = ("lambda:*TagResource", "sns:*TagResource", "events:*TagResource")
# Changing a role's permissions or trust (privilege escalation, PCI DSS 7.2.2).
ROLE_CHANGE_ACTIONS = (
    "iam:AttachRolePolicy",
    "iam:DeleteRole",
    "iam:DeleteRolePolicy",
    "iam:DetachRolePolicy",
    "iam:PutRolePolicy",
    "iam:UpdateAssumeRolePolicy",
    "iam:UpdateRole",
)


def boundary_arns(*, environment: str, partition: str, account: str, regions: Sequence[str]) -> list[str]:
    """The exact ARNs of the boundary's copies in `regions` (default path `/`, so `policy/<name>`)."""
    if not regions:
        raise ValueError("regions: the permissions boundary needs at least one region")
    return [f"arn:{partition}:iam::{account}:policy/{boundary_policy_name(environment, r)}" for r in sorted(regions)]


# The CDK bootstrap roles (`cdk-<qualifier>-deploy-role-*`, `-cfn-exec-role-*` with AdministratorAccess and
# no boundary, `-file-publishing-role-*`, ...): no landing-zone role assumes or passes one, in any account.
# The roles that deploy (the delivery's pipeline and GitHub deploy roles) carry the delivery boundaries,
# which name them in `bootstrap_role_users`.
BOOTSTRAP_ROLE_PATTERN = "role/cdk-*"
# Where AWS keeps the roles it manages (Identity Center permission sets under aws-reserved/sso.amazonaws.com/):
# nobody creates a look-alike there ("IAM identifiers", IAM User Guide: paths).
RESERVED_ROLE_PATH = "role/aws-reserved/*"


def boundary_statements(
    *,
    environment: str,
    partition: str,
    account: str,
    regions: Sequence[str],
    bootstrap_role_users: Sequence[str] = (),
) -> list[iam.PolicyStatement]:
    """The boundary's statements; the first allows everything the identity policy allows.

    `regions` are the regions whose copies of the boundary exist (a new role must name one of them,
    exactly); `bootstrap_role_users` are principal ARN patterns that may assume and pass the CDK
    bootstrap roles (none for an environment's own roles).
    """
    iam_arn = f"arn:{partition}:iam::{account}"
    boundaries = f"{iam_arn}:policy/{boundary_policy_name(environment, '*')}"
    exact_boundaries = boundary_arns(environment=environment, partition=partition, account=account, regions=regions)
    # The boundary's name as a policy name, or anywhere in a path (policy/<path>/<name>): IAM matches a
    # path too, so `/pci-lz-<env>-boundary-x/` would look like the boundary to a wildcard.
    look_alikes = f"{iam_arn}:policy/*{boundary_policy_name(environment, '*')}"
    own_policies = [f"{iam_arn}:policy/PciLz-{environment}-*", f"{iam_arn}:policy/pci-lz-{environment}-*"]
    bootstrap_roles = f"arn:{partition}:iam::*:{BOOTSTRAP_ROLE_PATTERN}"
    bootstrap_exemption = (
        {"ArnNotLike": {"aws:PrincipalArn": list(bootstrap_role_users)}} if bootstrap_role_users else None
    )
    trail_log_group = f"arn:{partition}:logs:*:{account}:log-group:{trail_log_group_name(environment)}"
    trail_alarms = f"arn:{partition}:cloudwatch:*:{account}:alarm:{protected_alarm_name_prefix(environment)}*"
    own_roles = [f"{iam_arn}:role/PciLz-{environment}-*", f"{iam_arn}:role/{operator_role_name(environment, '*')}"]
    # Every fixed-name role of the landing zone (`pci-lz-<env>-*`): the operator roles, the guard roles (the EBS
    # guard role among them: passed to a new function of one's own, a guard role would make its account-level
    # calls for anyone with lambda:CreateFunction), the archive's replication role. CloudFormation passes them
    # with its execution role, which carries no boundary; no landing-zone role passes one at run time. The card
    # vault's roles live under the path `/pci-lz-<env>-card-vault/` (key_ring.card_vault_role_path), the
    # cardholder-data key's one exception, which this pattern covers too (IAM's `*` spans `/`): no bounded
    # principal creates or passes one (NoReserved) or changes one (NoOwnRoles), since a role of its
    # own there would decrypt card data.
    fixed_name_roles = f"{iam_arn}:role/{operator_role_name(environment, '*')}"
    return [
        iam.PolicyStatement(sid="AllowAll", actions=["*"], resources=["*"]),
        # The boundary allows * on *: attached as an identity policy it would grant that (iam:PolicyARN,
        # "IAM condition keys" in the IAM User Guide; PutRolePolicy cannot name a managed policy).
        iam.PolicyStatement(
            sid="NoBoundaryAsPolicy",
            effect=iam.Effect.DENY,
            actions=list(POLICY_ATTACH_ACTIONS),
            resources=["*"],
            conditions={"ArnLike": {"iam:PolicyARN": boundaries}},
        ),
        # iam:PermissionsBoundary is absent when no boundary is given, and StringNotEquals then matches:
        # a role or user created without the boundary is denied too. Exact ARNs, never a wildcard: a
        # policy named, or pathed, like the boundary would otherwise pass ("Permissions boundaries for IAM
        # entities", IAM User Guide, the delegation example names the one boundary ARN).
        iam.PolicyStatement(
            sid="NoUnbounded",
            effect=iam.Effect.DENY,
            actions=[
                "iam:CreateRole",
                "iam:CreateUser",
                "iam:PutRolePermissionsBoundary",
                "iam:PutUserPermissionsBoundary",
            ],
            resources=["*"],
            conditions={"StringNotEquals": {"iam:PermissionsBoundary": exact_boundaries}},
        ),
        # Nobody but CloudFormation's execution role (no boundary) creates a policy named like the boundary:
        # the same delegation example denies iam:CreatePolicyVersion on the boundary itself.
        iam.PolicyStatement(
            sid="NoLookAlikes",
            effect=iam.Effect.DENY,
            actions=["iam:CreatePolicy", "iam:CreatePolicyVersion"],
            resources=[look_alikes],
        ),
        # Customer-managed policies of the landing zone's stacks (CloudFormation names them
        # `<stack name>-<logical ID>-<suffix>`, stack names `PciLz-<env>-*`) and its fixed-name ones
        # (`pci-lz-<env>-*`, the boundary's copies `pci-lz-<env>-boundary-<region>` among them): a new
        # default version would rewrite what a role holds, or the boundary itself.
        iam.PolicyStatement(
            sid="NoOwnPolicies",
            effect=iam.Effect.DENY,
            actions=[
                "iam:CreatePolicyVersion",
                "iam:DeletePolicy",
                "iam:DeletePolicyVersion",
                "iam:SetDefaultPolicyVersion",
            ],
            resources=own_policies,
        ),
        # Creating or passing a reserved or fixed-name role, in one statement (IAM counts each statement's Sid,
        # Effect and Resource against the 6,144 characters): nobody passes an Identity Center role either.
        iam.PolicyStatement(
            sid="NoReserved",
            effect=iam.Effect.DENY,
            actions=["iam:CreateRole", "iam:PassRole"],
            resources=[f"arn:{partition}:iam::*:{RESERVED_ROLE_PATH}", fixed_name_roles],
        ),
        iam.PolicyStatement(
            sid="NoOwnRoles",
            effect=iam.Effect.DENY,
            actions=list(ROLE_CHANGE_ACTIONS),
            # The roles that may use the bootstrap roles are exact names, and unchangeable like the rest.
            resources=[*own_roles, *bootstrap_role_users],
        ),
        iam.PolicyStatement(
            sid="NoBootstrap",
            effect=iam.Effect.DENY,
            actions=["iam:PassRole", "sts:AssumeRole"],
            resources=[bootstrap_roles],
            conditions=bootstrap_exemption,
        ),
        # One statement for every deny on every resource without a condition (IAM counts each statement's
        # Sid, Effect and Resource against the 6,144 characters): removing a boundary, key policy and key
        # lifecycle changes, and stopping or narrowing the detective controls.
        iam.PolicyStatement(
            sid="NoTampering",
            effect=iam.Effect.DENY,
            actions=[*BOUNDARY_REMOVAL_ACTIONS, *KEY_TAMPERING_ACTIONS, *AUDIT_TAMPERING_ACTIONS],
            resources=["*"],
        ),
        iam.PolicyStatement(
            sid="GuardsOnly",
            effect=iam.Effect.DENY,
            # The conformance-pack actions ride on this statement (a statement of their own would push the
            # delivery's boundaries past 6,144 characters); of the guard roles only the pack role is granted them.
            actions=[*ACCOUNT_GUARD_ACTIONS, *CONFORMANCE_PACK_ACTIONS],
            resources=["*"],
            conditions={"ArnNotLike": {"aws:PrincipalArn": f"{iam_arn}:role/{guard_role_name(environment, '*')}"}},
        ),
        iam.PolicyStatement(
            sid="EbsGuardOnly",
            effect=iam.Effect.DENY,
            actions=list(EBS_DEFAULT_GUARD_ACTIONS),
            resources=["*"],
            conditions={"ArnNotLike": {"aws:PrincipalArn": f"{iam_arn}:role/{ebs_guard_role_name(environment, '*')}"}},
        ),
        # One statement for the trail's log group (its streams: `<group>:log-stream:...`), the protected alarms,
        # the landing zone's parameters and the archive buckets: each action matches only its own service's
        # ARNs, so the cross product denies nothing more (and is shorter than four statements).
        iam.PolicyStatement(
            sid="NoLzState",
            effect=iam.Effect.DENY,
            actions=[
                *TRAIL_LOG_TAMPERING_ACTIONS,
                *TRAIL_ALARM_TAMPERING_ACTIONS,
                *PARAMETER_TAMPERING_ACTIONS,
                *ARCHIVE_TAMPERING_ACTIONS,
            ],
            resources=[
                f"{trail_log_group}*",
                trail_alarms,
                f"arn:{partition}:ssm:*:{account}:parameter{parameter_path(environment)}*",
                f"arn:{partition}:s3:::pcilz-{environment}-logs-{account}-*",
            ],
        ),
        # PutMetricData has no resource type; cloudwatch:namespace names the namespace ("Actions, resources,
        # and condition keys for Amazon CloudWatch", Service Authorization Reference).
        iam.PolicyStatement(
            sid="NoTrailMetrics",
            effect=iam.Effect.DENY,
            actions=["cloudwatch:PutMetricData"],
            resources=["*"],
            conditions={"StringEquals": {"cloudwatch:namespace": trail_metric_namespace(environment)}},
        ),
        # CDK's custom-resource functions (they run as the guard roles) and the alert path: see
        # PROTECTED_RESOURCE_ACTIONS for the pages. CloudFormation invokes and updates them with the deploy
        # credentials (the CDK bootstrap roles, no boundary), so a deploy keeps working.
        iam.PolicyStatement(
            sid="NoProtected",
            effect=iam.Effect.DENY,
            actions=list(PROTECTED_RESOURCE_ACTIONS),
            resources=["*"],
            conditions={"StringEquals": {f"aws:ResourceTag/{PROTECTED_TAG_KEY}": PROTECTED_TAG_VALUE}},
        ),
        # The function changes, on either value of the tag (StringLike "*": an absent tag does not match).
        iam.PolicyStatement(
            sid="NoCodeChange",
            effect=iam.Effect.DENY,
            actions=list(PROTECTED_FUNCTION_CHANGE_ACTIONS),
            resources=["*"],
            conditions={"StringLike": {f"aws:ResourceTag/{PROTECTED_TAG_KEY}": "*"}},
        ),
        iam.PolicyStatement(
            sid="NoProtectionTag",
            effect=iam.Effect.DENY,
            actions=list(PROTECTION_TAG_ACTIONS),
            resources=["*"],
            conditions={"ForAnyValue:StringEquals": {"aws:TagKeys": [PROTECTED_TAG_KEY]}},
        ),
    ]


MANAGED_POLICY_MAX = 6144  # "IAM and AWS STS quotas", IAM User Guide: managed policy size, whitespace not counted


def boundary_size(*, environment: str, regions: Sequence[str], bootstrap_role_users: Sequence[str] = ()) -> int:
    """The boundary's size as IAM counts it, in the longest partition name (`aws-us-gov`)."""
    statements = boundary_statements(
        environment=environment,
        partition="aws-us-gov",
        account="123456789012",
        regions=regions,
        bootstrap_role_users=bootstrap_role_users,
    )
    document = {"Version": "2012-10-17", "Statement": [s.to_statement_json() for s in statements]}
    return len(json.dumps(document, separators=(",", ":")))


# What every pack says of a boundary's Allow * on *: justified by the construct itself.
BOUNDARY_FINDINGS = (
    "AwsSolutions-IAM5[Action::*]",
    "AwsSolutions-IAM5[Resource::*]",
    "PCI.DSS.321-IAMPolicyNoStatementsWithAdminAccess",
    "NIST.800.53.R5-IAMPolicyNoStatementsWithAdminAccess",
    "PCI.DSS.321-IAMPolicyNoStatementsWithFullAccess",
    "NIST.800.53.R5-IAMPolicyNoStatementsWithFullAccess",
    "PCI4-IAM-NO-STAR-ACTIONS",
)
BOUNDARY_REASON = (
    "A permissions boundary only caps what identity policies grant (effective access is their"
    " intersection), so its Allow must be * on *; it grants nothing on its own and its Deny"
    " statements are what it is for (no privilege escalation, no disabling of controls)"
)


# checkov's IAM checks read the Allow * on * alone; the construct carries its skips wherever it is used
# (the Keys stacks, the delivery's pipeline and OIDC stacks, a fork's own), like the cdk-nag findings above.
BOUNDARY_CHECKOV_SKIPS = (
    ("CKV_AWS_107", "credentials exposure"),
    ("CKV_AWS_108", "data exfiltration"),
    ("CKV_AWS_109", "permissions management"),
    ("CKV_AWS_110", "privilege escalation"),
    ("CKV_AWS_111", "unconstrained write access"),
)
BOUNDARY_CHECKOV_REASON = (
    "this policy is a permissions boundary, which grants nothing on its own (effective access is the"
    " intersection with the role's identity policies), so its Allow is * on *; its Deny statements are the"
    " point: no boundary removal, no role without it, no key-policy or control tampering"
    " [PCI DSS v4.0.1 7.2.1, 7.2.2]"
)


class PermissionsBoundary(Construct):
    """This region's copy of the boundary policy (`policy` is its `AWS::IAM::ManagedPolicy`)."""

    policy: iam.ManagedPolicy
    policy_name: str

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        environment: str,
        regions: Sequence[str] | None = None,
        bootstrap_role_users: Sequence[str] = (),
    ) -> None:
        """`regions`: every region with a copy of this boundary (default: this stack's region only);
        `bootstrap_role_users`: principal ARN patterns that may assume and pass the CDK bootstrap roles."""
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        if isinstance(regions, str):
            raise TypeError("regions: a sequence of region names, not one string")
        every_region = tuple(regions) if regions is not None else (stack.region,)
        if not Token.is_unresolved(stack.region) and stack.region not in every_region:
            raise ValueError(f"regions: {list(every_region)} must include this stack's region {stack.region}")
        size = boundary_size(environment=environment, regions=every_region, bootstrap_role_users=bootstrap_role_users)
        if size > MANAGED_POLICY_MAX:
            raise ValueError(
                f"regions: the permissions boundary names every region's copy and would be {size} characters,"
                f" above IAM's {MANAGED_POLICY_MAX} for a managed policy: use fewer regions per environment"
            )
        self.policy_name = boundary_policy_name(environment, stack.region)
        self.policy = iam.ManagedPolicy(
            self,
            "Policy",
            managed_policy_name=self.policy_name,
            description="PCI landing zone permissions boundary: no privilege escalation, no disabling of controls",
            statements=boundary_statements(
                environment=environment,
                partition=stack.partition,
                account=stack.account,
                regions=every_region,
                bootstrap_role_users=bootstrap_role_users,
            ),
        )
        for rule in BOUNDARY_FINDINGS:
            justify(self, self.policy, rule=rule, reason=BOUNDARY_REASON, requirement="PCI DSS v4.0.1 7.2.1, 7.2.2")
        resource = cast(CfnResource, self.policy.node.default_child)
        existing = resource.get_metadata("checkov") or {}
        own = [{"id": check, "comment": f"{what}: {BOUNDARY_CHECKOV_REASON}"} for check, what in BOUNDARY_CHECKOV_SKIPS]
        skips = [*existing.get("skip", []), *own]
        resource.add_metadata("checkov", {**existing, "skip": skips})


CUSTOM_RESOURCE_TYPES = ("AWS::CloudFormation::CustomResource",)  # and every `Custom::<name>`
FUNCTION_TYPE = "AWS::Lambda::Function"


def _properties(resource: CfnResource) -> dict[str, object]:
    """A resource's properties as its construct holds them, before rendering (CfnResource's `cfnProperties`):
    PascalCase for a raw CfnResource, camelCase for a generated L1 class."""
    properties = jsii.get(resource, "cfnProperties")
    return dict(properties) if isinstance(properties, Mapping) else {}


def _function_named_by(value: object) -> CfnResource | None:
    """The `AWS::Lambda::Function` a token refers to (a Ref or GetAtt, in any stack), else None."""
    if not isinstance(value, str) or not Token.is_unresolved(value):
        return None
    reference = Tokenization.reverse(value)
    target = reference.target if isinstance(reference, Reference) else None
    if isinstance(target, CfnResource) and target.cfn_resource_type == FUNCTION_TYPE:
        return target
    return None


def custom_resource_functions(scope: IConstruct) -> list[CfnResource]:
    """Every Lambda function a custom resource under `scope` names as its ServiceToken, found in the model
    (the reference the token holds), never by construct ID: CDK's AwsCustomResource singletons, its
    CustomResourceProvider handlers (default-SG restriction, triggers, the OIDC provider), a fork's own."""
    found: dict[str, CfnResource] = {}
    for node in scope.node.find_all():
        if not isinstance(node, CfnResource):
            continue
        kind = node.cfn_resource_type
        if kind not in CUSTOM_RESOURCE_TYPES and not kind.startswith("Custom::"):
            continue
        properties = _properties(node)
        function = _function_named_by(properties.get("ServiceToken", properties.get("serviceToken")))
        if function is not None:
            found[function.node.path] = function
    return list(found.values())


def protect_function(function: CfnResource) -> None:
    """Puts the protection tag on a function: through its TagManager (an L1 `CfnFunction`), or as the `Tags`
    property of a raw `CfnResource` (CDK's CustomResourceProvider handlers, which stack tags never reach)."""
    if isinstance(function, lambda_.CfnFunction):
        function.tags.set_tag(PROTECTED_TAG_KEY, PROTECTED_TAG_VALUE)
    else:
        function.add_property_override("Tags", [{"Key": PROTECTED_TAG_KEY, "Value": PROTECTED_TAG_VALUE}])


def _functions_in_environment(function: CfnResource) -> list[CfnResource]:
    """Functions of the function's stack its environment variables name (CDK's Provider framework names its
    user handlers so). The L2's environment is a lazy value: resolved, its references are logical IDs."""
    stack = Stack.of(function)
    properties = _properties(function)
    rendered = json.dumps(stack.resolve(properties.get("Environment", properties.get("environment"))))
    functions = {
        stack.get_logical_id(c): c
        for c in stack.node.find_all()
        if isinstance(c, CfnResource) and c.cfn_resource_type == FUNCTION_TYPE and c is not function
    }
    return [f for logical_id, f in functions.items() if f'"{logical_id}"' in rendered]


@jsii.implements(IAspect)
class PermissionsBoundaryAspect:
    """Sets `PermissionsBoundary` on every IAM role and user of every stack under the scope it is added to.

    `boundaries` maps a region to the `PermissionsBoundary` of that region. A stack in another
    region, or another account, gets an error annotation (the synth fails). A stack that is not
    the boundary's own is made to depend on it; inside the boundary's own stack the role depends
    on the policy resource. Visiting a stack, it tags that stack's custom-resource functions with
    `pci-lz:protected=true` (`custom_resource_functions`): the boundary and what it protects by tag
    arrive together, in a fork's stacks too.
    """

    def __init__(self, *, boundaries: Mapping[str, PermissionsBoundary]) -> None:
        self._boundaries = dict(boundaries)

    def visit(self, node: IConstruct) -> None:
        if isinstance(node, Stack):
            self._protect_custom_resource_functions(node)
            return
        if not isinstance(node, CfnResource) or node.cfn_resource_type not in PRINCIPAL_TYPES:
            return
        stack = Stack.of(node)
        boundary = self._boundaries.get(stack.region)
        owner = Stack.of(boundary) if boundary is not None else None
        if boundary is None or owner is None or owner.account != stack.account:
            Annotations.of(node).add_error(
                f"No permissions boundary for {stack.account}/{stack.region}: every IAM role and user of the"
                " landing zone needs one (pci_constructs/permissions_boundary.py)"
            )
            return
        node.add_property_override(
            "PermissionsBoundary", f"arn:{stack.partition}:iam::{stack.account}:policy/{boundary.policy_name}"
        )
        if owner is stack:
            node.add_resource_dependency(cast(CfnResource, boundary.policy.node.default_child))
        else:
            stack.add_stack_dependency(owner, "IAM roles name this region's permissions boundary")

    @staticmethod
    def _protect_custom_resource_functions(stack: Stack) -> None:
        """The protection tag on every custom-resource function of `stack` (the boundary denies invoking,
        updating, re-permissioning or untagging them: they run as the guard roles). A function that invokes
        another (CDK's Provider framework and its user handler) would be refused by that deny under its own
        boundary-carrying role: an error, until the boundary exempts such a role by name."""
        for function in custom_resource_functions(stack):
            protect_function(function)
            for invoked in _functions_in_environment(function):
                Annotations.of(function).add_error(
                    f"{function.node.path} invokes {invoked.node.path} (CDK's Provider framework?): the permissions"
                    " boundary denies invoking a custom-resource function to every boundary-carrying role, so this"
                    " provider would fail at deploy (pci_constructs/permissions_boundary.py)"
                )
