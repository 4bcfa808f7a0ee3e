"""Every checkov check the landing zone skips, in one place, each on named resources only.

checkov reads per-resource skips from a CloudFormation resource's
`Metadata.checkov.skip` (`[{id, comment}]`); this module writes that metadata at
synth from the registry below, so a skip covers exactly the resources its path
pattern names (same pattern syntax as the cdk-nag acknowledgments: `*` matches
one path segment), and its reason travels inside the template to any checkov
run, the project's or a user's own. `.checkov.yaml` holds no `skip-check`: a
global skip would hide the check on every future resource too.

An entry is refused when its check ID is malformed, its reason is generic or
short, or its path matches no CloudFormation resource (a stale skip).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from aws_cdk import CfnResource, Stage
from constructs import IConstruct

from compliance.acknowledgments import CDK_SDK_CALL_FUNCTION
from compliance.registry import AcknowledgmentError, construct_paths, path_matches, shared_problems

_CHECK = re.compile(r"^CKV2?_AWS_\d+$")
METADATA_KEY = "checkov"

_NETWORK = "PciLz-*-Network-*"
# CDK-generated deploy-time handlers: CloudFormation invokes them synchronously, they call one AWS API.
_RESTRICT_DEFAULT_SG_HANDLER = f"{_NETWORK}/Custom::VpcRestrictDefaultSGCustomResourceProvider/Handler"
_RESTRICT_DEFAULT_SG = (
    "CDK-generated custom-resource handler of ec2.Vpc(restrict_default_security_group=True): CloudFormation"
    " invokes it only at deploy time to strip every rule from the VPC's default security group"
)
_AWS_CUSTOM_RESOURCE_HANDLER = f"PciLz-*-Data-*/{CDK_SDK_CALL_FUNCTION}"
_EBS_DEFAULTS = (
    "CDK-generated singleton handler of custom_resources.AwsCustomResource (pci_constructs/ebs_default_encryption.py):"
    " CloudFormation invokes it only at deploy time to switch on EBS encryption by default with the block-storage key"
)
_ACCOUNT_GUARDS = (
    "CDK-generated singleton handler of custom_resources.AwsCustomResource (pci_constructs/account_guards.py):"
    " CloudFormation invokes it only at deploy time to set account-level guards (password policy, S3 and AMI"
    " public-access blocks, IMDSv2 defaults)"
)
_ACCOUNT_GUARDS_NO_VPC = (
    "it calls only the IAM, S3 Control and EC2 APIs, handles no cardholder data, and no VPC of the landing"
    " zone has a route or endpoint for IAM or S3 Control"
)
_MANAGED_PACK = (
    "Deploy-time function of ManagedConformancePack (pci_constructs/detective_controls.py,"
    " lambda/managed_pack/handler.py): CloudFormation invokes it only at deploy time to put, wait for or delete"
    " AWS Config's managed PCI DSS v4 conformance pack (audit.conformance_packs.aws_managed)"
)
_MANAGED_PACK_NO_VPC = (
    "it calls only the AWS Config API, handles no cardholder data, and answers CloudFormation through a"
    " pre-signed S3 URL in AWS's own account, which the VPC's S3 gateway endpoint refuses"
)
_MANAGED_PACK_NO_DLQ = (
    "it answers CloudFormation itself on every path, a failure being a FAILED answer that fails and rolls back"
    " the deployment, so a dead-letter queue would only hold requests the stack has already failed"
)
_NO_CONCURRENCY = "it has no event source to throttle and CDK exposes no concurrency setting for it"
_NO_DLQ = (
    "the invocation is synchronous, so a failure fails and rolls back the stack update where it is seen,"
    " and a dead-letter queue only ever receives asynchronous failures"
)
_NO_VPC = (
    "it calls only the EC2 API, handles no cardholder data, and CDK places it outside the VPC so the CDE"
    " needs no route or endpoint just for it"
)


def _handler_skips(
    path: str,
    what: str,
    no_vpc: str = _NO_VPC,
    *,
    conditional: bool = False,
    no_dlq: str = _NO_DLQ,
    no_concurrency: str = _NO_CONCURRENCY,
) -> tuple[CheckovSkip, ...]:
    return (
        CheckovSkip(path, "CKV_AWS_115", f"{what}; {no_concurrency}", "PCI DSS v4.0.1 2.2.1", conditional),
        CheckovSkip(path, "CKV_AWS_116", f"{what}; {no_dlq}", "PCI DSS v4.0.1 2.2.1", conditional),
        CheckovSkip(path, "CKV_AWS_117", f"{what}; {no_vpc}", "PCI DSS v4.0.1 1.3.1", conditional),
    )


@dataclass(frozen=True)
class CheckovSkip:
    path: str
    check: str
    reason: str
    requirement: str
    # The resource exists only with some configuration (the delivery app); may match nothing.
    conditional: bool = False

    def problems(self) -> list[str]:
        found = shared_problems(self.path, self.reason, self.requirement)
        if not _CHECK.match(self.check):
            found.append(f"check {self.check!r} is not a checkov AWS check ID (CKV_AWS_n / CKV2_AWS_n)")
        return found

    def matches(self, construct_path: str) -> bool:
        return path_matches(self.path, construct_path)

    @property
    def comment(self) -> str:
        return f"{self.reason} [{self.requirement}]"


CHECKOV_SKIPS: tuple[CheckovSkip, ...] = (
    *_handler_skips(_RESTRICT_DEFAULT_SG_HANDLER, _RESTRICT_DEFAULT_SG),
    *_handler_skips(_AWS_CUSTOM_RESOURCE_HANDLER, _EBS_DEFAULTS),
    CheckovSkip(
        path="PciLz-*-Keys-*/Keys/BlockStorageKey",
        check="CKV_AWS_33",
        reason=(
            "The account's default EBS key must be usable by every principal of the account that creates a"
            " volume, so its Allow statements name Principal '*' but hold kms:CallerAccount = this account and"
            " kms:ViaService = EC2 of this region (AWS's documented pattern), and its '*' Deny blocks any use"
            " outside EC2; checkov does not read the conditions"
        ),
        requirement="PCI DSS v4.0.1 3.6.1, 7.2.1",
    ),
    CheckovSkip(
        path="PciLz-*-Data-*/AccessLogs/Bucket",
        check="CKV_AWS_18",
        reason=(
            "This is the region's S3 server-access-log target: logging it into itself would loop, and any"
            " other target would only move the gap one bucket further (acknowledged for cdk-nag as AwsSolutions-S1)"
        ),
        requirement="PCI DSS v4.0.1 10.2.1",
    ),
    # --- Issue #13: account-guard SDK calls ---------------------------------------------------------
    *_handler_skips(f"PciLz-*-Identity-*/{CDK_SDK_CALL_FUNCTION}", _ACCOUNT_GUARDS, _ACCOUNT_GUARDS_NO_VPC),
    *_handler_skips(f"PciLz-*-AccountGuards-*/{CDK_SDK_CALL_FUNCTION}", _ACCOUNT_GUARDS, _ACCOUNT_GUARDS_NO_VPC),
    # Only with audit.conformance_packs.aws_managed (envs/guardrails.yaml).
    *_handler_skips(
        "PciLz-*-Detection-*/AwsManagedConformancePack/Function",
        _MANAGED_PACK,
        _MANAGED_PACK_NO_VPC,
        conditional=True,
        no_dlq=_MANAGED_PACK_NO_DLQ,
        no_concurrency=(
            "it runs once per create, update or delete of the pack, and reserving concurrency for it would fail"
            " in accounts whose unreserved pool may not drop below 100"
        ),
    ),
    # The permissions boundary's CKV_AWS_107-111 skips travel with the construct
    # (pci_constructs/permissions_boundary.py, BOUNDARY_CHECKOV_SKIPS), in every stack that has one.
    # --- Issue #14: the delivery's pipeline stacks (only in the delivery app, `-c delivery=...`).
    *(
        CheckovSkip(
            path=path,
            check="CKV_AWS_18",
            reason=(
                "This is the S3 server-access-log target of the pipeline's artifact bucket: logging it into"
                " itself would loop (acknowledged for cdk-nag as AwsSolutions-S1's PCI and NIST twins)"
            ),
            requirement="PCI DSS v4.0.1 10.2.1",
            conditional=True,
        )
        for path in (
            "PciLz-delivery-Pipeline-*/Delivery/ArtifactAccessLogs/Bucket",
            "PciLz-delivery-Artifacts-*/Replication/AccessLogs/Bucket",
        )
    ),
    *(
        CheckovSkip(
            path=f"PciLz-delivery-Pipeline-*/Delivery/Pipeline/{role}/DefaultPolicy",
            check="CKV_AWS_111",
            reason=(
                "CDK Pipelines generates this policy from the grants its actions need (artifact objects under"
                " run-specific keys, CodeBuild builds and logs it names itself); acknowledged for cdk-nag as"
                " AwsSolutions-IAM5 with each finding"
            ),
            requirement="PCI DSS v4.0.1 7.2.1, 7.2.2",
            conditional=True,
        )
        for role in ("Pipeline/Role", "Assets/FileRole")
    ),
    # --- Card vault workload (issue 10) ------------------------------------------------------------
    *(
        CheckovSkip(
            path=f"PciLz-*-Workload-*/CardVault/{function}Policy",
            check="CKV_AWS_111",
            reason=(
                "The unconstrained write actions are the Lambda VPC network-interface actions (create, delete,"
                " assign and unassign addresses), which EC2 does not scope to resources (acknowledged for"
                " cdk-nag as AwsSolutions-IAM5); every data action names its resource"
            ),
            requirement="PCI DSS v4.0.1 7.2.1",
            conditional=True,  # the vault is optional (card_vault absent or enabled: false)
        )
        for function in ("Api", "Detokenize", "Purge", "Migrate", "Keys")
    ),
    *(
        CheckovSkip(
            path=f"PciLz-*-Workload-*/CardVault/{function}",
            check="CKV_AWS_116",
            reason=f"{reason} (acknowledged for cdk-nag as NIST.800.53.R5-LambdaDLQ)",
            requirement="PCI DSS v4.0.1 10.7.2",
            conditional=True,  # the vault is optional (card_vault absent or enabled: false)
        )
        for function, reason in (
            (
                "Api",
                "The ALB invokes the API synchronously and returns its error to the client; a dead-letter"
                " queue receives only asynchronous failures",
            ),
            (
                "Detokenize",
                "Callers invoke detokenization synchronously and get its error; a dead-letter queue"
                " receives only asynchronous failures and would hold card-number requests",
            ),
            (
                "Migrate",
                "The CDK trigger invokes the migration synchronously and fails the deployment on error;"
                " a dead-letter queue receives only asynchronous failures",
            ),
            (
                "Purge",
                "The purge is idempotent and daily: EventBridge retries a failed run twice and the next"
                " run deletes the same rows; failures are in its error metric and encrypted log group",
            ),
            (
                "Keys",
                "An operator invokes the key-maintenance jobs synchronously and reads their answer (counts,"
                " more: true until done); a dead-letter queue receives only asynchronous failures",
            ),
        )
    ),
    *_handler_skips(
        "PciLz-*-Workload-*/AWSCDK.TriggerCustomResourceProviderCustomResourceProvider/Handler",
        "CDK-generated provider of aws_cdk.triggers (the card vault's migration trigger): CloudFormation invokes"
        " it at deploy time only to invoke the migration function and wait for it",
        conditional=True,  # the vault is optional (card_vault absent or enabled: false)
    ),
)


def _resource_of(construct: IConstruct) -> CfnResource | None:
    """The CloudFormation resource a construct stands for: itself, or its default child (L2)."""
    if isinstance(construct, CfnResource):
        return construct
    child = construct.node.default_child
    return child if isinstance(child, CfnResource) else None


def apply_checkov_skips(
    app: Stage,
    entries: Iterable[CheckovSkip] = CHECKOV_SKIPS,
    constructs: list[tuple[IConstruct, str]] | None = None,
) -> dict[CheckovSkip, list[str]]:
    """Write each entry into `Metadata.checkov.skip` of every resource it matches; return the matched paths.

    Raises AcknowledgmentError when an entry is malformed or matches no CloudFormation resource.
    """
    entries = list(entries)
    bad = [f"{e.path} {e.check}: {p}" for e in entries for p in e.problems()]
    if bad:
        raise AcknowledgmentError("invalid checkov skips:\n  " + "\n  ".join(bad))
    if constructs is None:
        constructs = construct_paths(app)
    per_resource: dict[str, tuple[CfnResource, list[CheckovSkip]]] = {}
    matched: dict[CheckovSkip, list[str]] = {}
    for entry in entries:
        hits = []
        for construct, path in constructs:
            if not entry.matches(path):
                continue
            resource = _resource_of(construct)
            if resource is None:
                continue
            resource_path = resource.node.path
            per_resource.setdefault(resource_path, (resource, []))[1].append(entry)
            hits.append(resource_path)
        matched[entry] = hits
    stale = [f"{e.path} {e.check}" for e, paths in matched.items() if not paths and not e.conditional]
    if stale:
        raise AcknowledgmentError("stale checkov skips (match no CloudFormation resource):\n  " + "\n  ".join(stale))
    for resource, skips in per_resource.values():
        existing: Any = resource.get_metadata(METADATA_KEY) or {}
        listed = list(existing.get("skip", [])) if isinstance(existing, dict) else []
        listed += [{"id": s.check, "comment": s.comment} for s in skips]
        resource.add_metadata(METADATA_KEY, {**(existing if isinstance(existing, dict) else {}), "skip": listed})
    return matched
