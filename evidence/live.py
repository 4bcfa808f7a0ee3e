"""`make evidence-live LZ_ENV=...`: the deployed state, read with the operator's credentials, in the report.

Apart from the synth on purpose: nothing that runs at synth or test time imports this module or
boto3 (tests/test_evidence_live.py checks the import boundary). It reads the assembly of the last
`make synth` (`cdk.out/`), asks the account, and rewrites the same evidence set with three more
work papers, each labelled with its retrieval time in UTC:

- **CloudFormation drift per stack**: DetectStackDrift, then DescribeStackDriftDetectionStatus until
  the detection ends, then DescribeStackResourceDrifts for the resources that are not IN_SYNC
  (AWS CloudFormation API Reference, "DetectStackDrift", "DescribeStackDriftDetectionStatus",
  "DescribeStackResourceDrifts"). **DetectStackDrift is not strictly read-only**: it starts a
  drift-detection operation, which changes no resource and no template but records a detection and
  updates the stack's drift status and time; CloudFormation reads each resource's actual
  configuration with the caller's permissions, so the operator needs cloudformation:DetectStackDrift
  plus read access to every resource type (the AWS managed ReadOnlyAccess policy does not include
  DetectStackDrift; SecurityAudit does not either). `--no-detect` starts nothing and reports the
  last detection's result from DescribeStacks' DriftInformation instead.
- **The conformance pack's compliance** per region: GetConformancePackComplianceSummary and
  DescribeConformancePackCompliance (AWS Config API Reference) for every pack the templates create, AWS's
  managed pack (deployed by the templates' custom resource) included.
- **Security Hub PCI DSS v4.0.1 control status** per region: GetEnabledStandards for the
  `standards/pci-dss/v/4.0.1` subscription, DescribeStandardsControls for each control's enablement,
  and GetFindings (active findings associated with the standard) for each control's compliance,
  summarised as the console does ("Security control status", Security Hub CSPM User Guide):
  failed if any finding failed, passed if every finding passed, no data without findings.

Every call but DetectStackDrift is a Describe/Get/List call. Errors are reported in the table
("not deployed", "access denied: <code>"), never as a pass.
"""

from __future__ import annotations

import argparse
import datetime
import sys
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from botocore.exceptions import BotoCoreError, ClientError

from evidence.workpapers import DeployedState, WorkPaper
from pci_rules.model import TemplateModel

PCI_STANDARD = "standards/pci-dss/v/4.0.1"
IN_PROGRESS = "DETECTION_IN_PROGRESS"
DETECTION_TIMEOUT_S = 600.0
POLL_S = 5.0
# Security Hub compliance statuses, worst first (AwsSecurityFinding Compliance.Status).
_WORST_FIRST = ("FAILED", "WARNING", "NOT_AVAILABLE", "PASSED")


class Clients(Protocol):
    def __call__(self, service: str, region: str) -> Any: ...


def _code(err: ClientError) -> str:
    return str(err.response.get("Error", {}).get("Code", "")) or "error"


def _message(err: ClientError) -> str:
    return str(err.response.get("Error", {}).get("Message", ""))


def utc_now() -> str:
    return datetime.datetime.now(tz=datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# -- CloudFormation drift ------------------------------------------------------------------------------
@dataclass(frozen=True)
class StackDrift:
    stack: str
    region: str
    status: str  # IN_SYNC, DRIFTED, NOT_CHECKED, UNKNOWN, not deployed, error text
    drifted: tuple[tuple[str, str, str, str], ...]  # (logical id, type, drift status, property differences)
    detail: str = ""


def _drifted_resources(cfn: Any, stack: str) -> tuple[tuple[str, str, str, str], ...]:
    out = []
    kwargs: dict[str, Any] = {
        "StackName": stack,
        "StackResourceDriftStatusFilters": ["MODIFIED", "DELETED", "NOT_CHECKED"],
    }
    while True:
        page = cfn.describe_stack_resource_drifts(**kwargs)
        for drift in page.get("StackResourceDrifts", []):
            differences = "; ".join(
                f"{d.get('PropertyPath')} {d.get('DifferenceType')}" for d in drift.get("PropertyDifferences") or []
            )
            out.append(
                (
                    str(drift.get("LogicalResourceId")),
                    str(drift.get("ResourceType")),
                    str(drift.get("StackResourceDriftStatus")),
                    differences or "-",
                )
            )
        if not page.get("NextToken"):
            return tuple(sorted(out))
        kwargs["NextToken"] = page["NextToken"]


def stack_drift(
    cfn: Any,
    stack: str,
    region: str,
    *,
    detect: bool = True,
    sleep: Callable[[float], None] = time.sleep,
    timeout_s: float = DETECTION_TIMEOUT_S,
) -> StackDrift:
    """The stack's drift: a new detection (`detect`), else the last one's result."""
    try:
        if not detect:
            found = cfn.describe_stacks(StackName=stack)["Stacks"][0]
            info = found.get("DriftInformation") or {}
            status = str(info.get("StackDriftStatus", "NOT_CHECKED"))
            checked = info.get("LastCheckTimestamp")
            detail = f"last detection {checked:%Y-%m-%dT%H:%M:%SZ}" if checked else "never detected"
            drifted = _drifted_resources(cfn, stack) if status == "DRIFTED" else ()
            return StackDrift(stack, region, status, drifted, detail)
        detection = cfn.detect_stack_drift(StackName=stack)["StackDriftDetectionId"]
        waited = 0.0
        while True:
            answer = cfn.describe_stack_drift_detection_status(StackDriftDetectionId=detection)
            if answer["DetectionStatus"] != IN_PROGRESS:
                break
            if waited >= timeout_s:
                return StackDrift(
                    stack, region, "UNKNOWN", (), f"detection {detection} still running after {waited:g} s"
                )
            sleep(POLL_S)
            waited += POLL_S
        status = str(answer.get("StackDriftStatus", "UNKNOWN"))
        detail = f"detection {answer['DetectionStatus']}"
        if answer.get("DetectionStatusReason"):
            detail += f": {answer['DetectionStatusReason']}"
        drifted = _drifted_resources(cfn, stack) if status == "DRIFTED" else ()
        return StackDrift(stack, region, status, drifted, detail)
    except ClientError as err:
        if _code(err) == "ValidationError" and "does not exist" in _message(err):
            return StackDrift(stack, region, "not deployed", (), "")
        return StackDrift(stack, region, f"not read ({_code(err)})", (), _message(err)[:200])


def drift_paper(drifts: Sequence[StackDrift], retrieved: str) -> WorkPaper:
    rows: list[tuple[str, ...]] = []
    for drift in drifts:
        if not drift.drifted:
            rows.append((drift.region, drift.stack, drift.status, "-", "-", "-", drift.detail or "-"))
        for logical_id, resource_type, status, differences in drift.drifted:
            rows.append(
                (
                    drift.region,
                    drift.stack,
                    drift.status,
                    f"{logical_id} ({resource_type})",
                    status,
                    differences,
                    drift.detail or "-",
                )
            )
    return WorkPaper(
        "deployed-drift",
        f"Deployed state: CloudFormation drift (retrieved {retrieved})",
        f"Drift of every stack of this assembly, read from the account at {retrieved} (UTC). A drift"
        " detection (DetectStackDrift) was started for each stack unless `--no-detect` was given; it changes"
        " no resource. Resource types CloudFormation cannot check for drift are not covered.",
        ("Region", "Stack", "Stack drift", "Resource", "Resource drift", "Differences", "Detection"),
        tuple(rows),
    )


# -- AWS Config conformance pack -------------------------------------------------------------------------
@dataclass(frozen=True)
class PackCompliance:
    pack: str
    region: str
    status: str
    rules: tuple[tuple[str, str], ...]  # (Config rule, compliance type)


def conformance_compliance(config: Any, pack: str, region: str) -> PackCompliance:
    try:
        summary = config.get_conformance_pack_compliance_summary(ConformancePackNames=[pack])
        entries = summary.get("ConformancePackComplianceSummaryList") or []
        status = str(entries[0].get("ConformancePackComplianceStatus")) if entries else "INSUFFICIENT_DATA"
        rules: list[tuple[str, str]] = []
        kwargs: dict[str, Any] = {"ConformancePackName": pack}
        while True:
            page = config.describe_conformance_pack_compliance(**kwargs)
            rules += [
                (str(r.get("ConfigRuleName")), str(r.get("ComplianceType")))
                for r in page.get("ConformancePackRuleComplianceList") or []
            ]
            if not page.get("NextToken"):
                break
            kwargs["NextToken"] = page["NextToken"]
        return PackCompliance(pack, region, status, tuple(sorted(rules)))
    except ClientError as err:
        if _code(err) == "NoSuchConformancePackException":
            return PackCompliance(pack, region, "not deployed", ())
        return PackCompliance(pack, region, f"not read ({_code(err)})", ())


def conformance_paper(packs: Sequence[PackCompliance], retrieved: str) -> WorkPaper:
    rows: list[tuple[str, ...]] = []
    for pack in packs:
        if not pack.rules:
            rows.append((pack.region, pack.pack, pack.status, "-", "-"))
        rows += [(pack.region, pack.pack, pack.status, rule, compliance) for rule, compliance in pack.rules]
    return WorkPaper(
        "deployed-conformance",
        f"Deployed state: AWS Config conformance pack (retrieved {retrieved})",
        f"The PCI DSS v4.0.1 conformance pack's compliance per region, read at {retrieved} (UTC): the pack's"
        " overall status and each Config rule's. A rule's result is AWS Config's last evaluation, not a"
        " verdict on the requirement.",
        ("Region", "Conformance pack", "Pack status", "Config rule", "Rule compliance"),
        tuple(rows),
    )


# -- Security Hub ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ControlStatus:
    region: str
    control: str
    title: str
    enablement: str  # ENABLED / DISABLED (reason)
    status: str  # FAILED, WARNING, NOT_AVAILABLE, PASSED, NO_DATA
    findings: int
    requirements: str


def _standard_subscription(hub: Any) -> str | None:
    kwargs: dict[str, Any] = {}
    while True:
        page = hub.get_enabled_standards(**kwargs)
        for subscription in page.get("StandardsSubscriptions") or []:
            if str(subscription.get("StandardsArn", "")).endswith(PCI_STANDARD) and subscription.get(
                "StandardsStatus"
            ) in ("READY", "PENDING", "INCOMPLETE"):
                return str(subscription["StandardsSubscriptionArn"])
        if not page.get("NextToken"):
            return None
        kwargs["NextToken"] = page["NextToken"]


def control_findings(hub: Any) -> dict[str, list[str]]:
    """Security control ID -> compliance statuses of its active findings associated with the standard.
    The filters are applied again here (a filter the service or a stand-in ignores changes nothing)."""
    filters = {
        "ComplianceAssociatedStandardsId": [{"Value": PCI_STANDARD, "Comparison": "EQUALS"}],
        "RecordState": [{"Value": "ACTIVE", "Comparison": "EQUALS"}],
        "WorkflowStatus": [{"Value": "SUPPRESSED", "Comparison": "NOT_EQUALS"}],
    }
    out: dict[str, list[str]] = {}
    kwargs: dict[str, Any] = {"Filters": filters, "MaxResults": 100}
    while True:
        page = hub.get_findings(**kwargs)
        for finding in page.get("Findings") or []:
            compliance = finding.get("Compliance") or {}
            standards = [s.get("StandardsId", "") for s in compliance.get("AssociatedStandards") or []]
            if PCI_STANDARD not in standards or finding.get("RecordState", "ACTIVE") != "ACTIVE":
                continue
            if (finding.get("Workflow") or {}).get("Status") == "SUPPRESSED":
                continue
            control = compliance.get("SecurityControlId")
            if control:
                out.setdefault(str(control), []).append(str(compliance.get("Status", "NOT_AVAILABLE")))
        if not page.get("NextToken"):
            return out
        kwargs["NextToken"] = page["NextToken"]


def summarise(statuses: Iterable[str]) -> str:
    seen = set(statuses)
    if not seen:
        return "NO_DATA"
    return next((s for s in _WORST_FIRST if s in seen), "NOT_AVAILABLE")


def security_hub_controls(hub: Any, region: str) -> tuple[str, list[ControlStatus]]:
    """(standard state, control statuses) of PCI DSS v4.0.1 in one region."""
    try:
        subscription = _standard_subscription(hub)
        if subscription is None:
            return "PCI DSS v4.0.1 not enabled", []
        findings = control_findings(hub)
        controls: list[ControlStatus] = []
        kwargs: dict[str, Any] = {"StandardsSubscriptionArn": subscription}
        while True:
            page = hub.describe_standards_controls(**kwargs)
            for control in page.get("Controls") or []:
                control_id = str(control.get("ControlId"))
                enablement = str(control.get("ControlStatus"))
                if enablement == "DISABLED" and control.get("DisabledReason"):
                    enablement += f" ({control['DisabledReason']})"
                found = findings.get(control_id, [])
                controls.append(
                    ControlStatus(
                        region,
                        control_id,
                        str(control.get("Title", "")),
                        enablement,
                        summarise(found) if enablement == "ENABLED" else "-",
                        len(found),
                        ", ".join(control.get("RelatedRequirements") or []),
                    )
                )
            if not page.get("NextToken"):
                break
            kwargs["NextToken"] = page["NextToken"]
        return "enabled", sorted(controls, key=lambda c: c.control)
    except ClientError as err:
        if _code(err) == "InvalidAccessException":
            return "Security Hub not enabled", []
        return f"not read ({_code(err)})", []


def security_hub_paper(regions: Mapping[str, tuple[str, list[ControlStatus]]], retrieved: str) -> WorkPaper:
    rows: list[tuple[str, ...]] = []
    for region, (state, controls) in sorted(regions.items()):
        if not controls:
            rows.append((region, state, "-", "-", "-", "-", "-"))
        rows += [
            (region, c.control, c.title, c.enablement, c.status, str(c.findings), c.requirements) for c in controls
        ]
    return WorkPaper(
        "deployed-security-hub",
        f"Deployed state: Security Hub PCI DSS v4.0.1 controls (retrieved {retrieved})",
        f"Each control of the PCI DSS v4.0.1 standard per region, read at {retrieved} (UTC): enabled or not,"
        " and its status from its active findings (failed if any failed, passed if all passed, no data"
        " without findings). Security Hub's result is automated evidence, not the assessor's conclusion.",
        ("Region", "Control", "Title", "Enablement", "Status", "Findings", "Related requirements"),
        tuple(rows),
    )


# -- all of it ----------------------------------------------------------------------------------------
# The resource types a conformance pack of the templates comes from: CloudFormation's own, and the custom
# resource that deploys AWS's managed pack by its source identifier (pci_constructs/detective_controls.py,
# `ManagedConformancePack`, `MANAGED_PACK_RESOURCE_TYPE`), whose `ConformancePackName` property is the pack's name.
CONFORMANCE_PACK_TYPES = ("AWS::Config::ConformancePack", "Custom::ConfigManagedConformancePack")


def conformance_packs(model: TemplateModel) -> list[tuple[str, str]]:
    """(pack name, region) of every conformance pack the templates create: the project's or AWS's sample
    (`AWS::Config::ConformancePack`) and AWS's managed pack (`Custom::ConfigManagedConformancePack`)."""
    out = []
    for kind in CONFORMANCE_PACK_TYPES:
        for pack in model.resources(kind):
            name = pack.prop("ConformancePackName")
            region = model.stack_of(pack).region
            if isinstance(name, str) and region:
                out.append((name, region))
    return sorted(out)


def read_deployed_state(
    model: TemplateModel,
    clients: Clients,
    *,
    detect: bool = True,
    sleep: Callable[[float], None] = time.sleep,
    now: Callable[[], str] = utc_now,
) -> DeployedState:
    """Drift of every stack, the conformance packs' compliance and Security Hub's PCI DSS v4.0.1
    controls in every region of the model, as a `DeployedState` for the report."""
    retrieved = now()
    stacks = sorted((s.region or "", s.name) for s in model.stacks.values() if s.region)
    drifts = [stack_drift(clients("cloudformation", r), n, r, detect=detect, sleep=sleep) for r, n in stacks]
    packs = [conformance_compliance(clients("config", r), name, r) for name, r in conformance_packs(model)]
    regions = sorted({r for r, _ in stacks})
    hub = {region: security_hub_controls(clients("securityhub", region), region) for region in regions}
    drifted = [d.stack for d in drifts if d.status != "IN_SYNC"]
    failing = sum(1 for _, controls in hub.values() for c in controls if c.status == "FAILED")
    summary = (
        f"read from the account at {retrieved} (make evidence-live): {len(drifts) - len(drifted)} of"
        f" {len(drifts)} stacks IN_SYNC"
        + (f" ({', '.join(f'{d.stack}: {d.status}' for d in drifts if d.status != 'IN_SYNC')})" if drifted else "")
        + "; conformance pack"
        + (" " + ", ".join(f"{p.region} {p.status}" for p in packs) if packs else ": none in the templates")
        + f"; Security Hub PCI DSS v4.0.1: {failing} controls FAILED"
        + (
            " (" + ", ".join(f"{r} {state}" for r, (state, _) in hub.items() if state != "enabled") + ")"
            if any(state != "enabled" for state, _ in hub.values())
            else ""
        )
    )
    papers = (drift_paper(drifts, retrieved), conformance_paper(packs, retrieved), security_hub_paper(hub, retrieved))
    return DeployedState(summary, papers)


def main(argv: Sequence[str] | None = None, session: Any = None) -> int:
    parser = argparse.ArgumentParser(prog="evidence.live", description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("outdir", type=Path, help="the assembly of the last synth (cdk.out)")
    parser.add_argument("--env", default=None, help="the environment file the assembly was synthesized from")
    parser.add_argument(
        "--no-detect", action="store_true", help="start no drift detection: report the last one's result"
    )
    args = parser.parse_args(argv)
    import boto3

    from config import ConfigError, load_environment
    from evidence.report import _gate_from_evidence, attestation_of, write_evidence_for_assembly

    try:
        # The assembly was synthesized (and gated) when its acknowledgments held: an entry whose review
        # date has passed since must not stop the evidence of what is deployed (the next synth refuses it).
        config = load_environment(args.env, check_reviews=False)
    except ConfigError as err:
        print(err, file=sys.stderr)
        return 2
    session = session or boto3.Session()
    if session.get_credentials() is None:
        print("evidence-live needs the operator's AWS credentials of the target account", file=sys.stderr)
        return 2
    model = TemplateModel.from_assembly(args.outdir)
    if any(stack.assembly for stack in model.stacks.values()):
        print("evidence-live reads one environment: synthesize it without DELIVERY", file=sys.stderr)
        return 2
    accounts = {s.account for s in model.stacks.values() if s.account}
    try:
        actual = session.client("sts", region_name=config.home_region).get_caller_identity()["Account"]
    except (ClientError, BotoCoreError) as err:
        print(f"evidence-live could not read the caller identity: {err}", file=sys.stderr)
        return 2
    if accounts and actual not in accounts:
        print(f"credentials are for {actual}; the assembly deploys to {', '.join(sorted(accounts))}", file=sys.stderr)
        return 2

    def clients(service: str, region: str) -> Any:
        return session.client(service, region_name=region)

    deployed = read_deployed_state(model, clients, detect=not args.no_detect)
    gate, report = _gate_from_evidence(args.outdir)
    write_evidence_for_assembly(
        args.outdir, gate, report, attestation=attestation_of(config.evidence), deployed=deployed
    )
    print(f"deployed state {deployed.summary}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
