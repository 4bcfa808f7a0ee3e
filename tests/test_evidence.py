"""The assessor evidence: report statuses agree with the rules, diagrams carry every allowed flow, bytes repeat.

The flow checks read the raw template JSON on their own (not through evidence.topology), so a
security-group rule or NACL entry that the topology missed fails here.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import re
import shutil
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from compliance.gate import EVIDENCE_DIR, Gate, GateReport
from evidence.diagrams import data_flow_diagram, network_diagram, to_dot, to_mermaid
from evidence.report import (
    DIAGRAM_DIR,
    EXCEPTED,
    GENERATED,
    MANIFEST_NAME,
    NOT_APPLICABLE,
    NOT_EVIDENCED,
    OPEN,
    PASSED,
    REPORT_NAME,
    Attestation,
    add_png,
    build_diagrams,
    generation_time,
    requirement_statuses,
    write_compliance_evidence,
    write_evidence_for_assembly,
)
from evidence.topology import Topology
from evidence.workpapers import OTHER_ENVIRONMENT, TOOLING_CATEGORY, WORKPAPER_DIR
from pci_rules.model import Resource, StackTemplate, TemplateModel
from pci_rules.rule import Check, Rule, RuleResult, evaluate
from pci_rules.rules import RULES
from tests.conftest import Delivered, Synthesized

DOT = shutil.which("dot")
NO_DOT = "Graphviz `dot` is not installed (apt-get install graphviz; .ci/run installs it)"
NO_EGRESS = {"CidrIp": "255.255.255.255/32", "IpProtocol": "icmp", "FromPort": 252, "ToPort": 86}


@dataclass
class Evidence:
    model: TemplateModel
    results: list[RuleResult]
    directory: Path
    files: list[Path]

    def read(self, name: str) -> str:
        return (self.directory / name).read_text(encoding="utf-8")


@pytest.fixture(scope="session")
def evidence(synthesized: Synthesized, tmp_path_factory: pytest.TempPathFactory) -> Evidence:
    model = TemplateModel.from_assembly(synthesized.outdir)
    results = evaluate(model, RULES)
    out = tmp_path_factory.mktemp("evidence")
    files = write_compliance_evidence(
        out, model=model, results=results, gate=synthesized.gate, report=synthesized.report
    )
    return Evidence(model, results, out / EVIDENCE_DIR, files)


def _templates(model: TemplateModel) -> dict[str, Mapping[str, Any]]:
    return {name: stack.template for name, stack in model.stacks.items()}


# -- what the templates allow, read straight from the JSON ----------------------------------------
def template_sg_rules(templates: Mapping[str, Mapping[str, Any]]) -> Iterator[tuple[str, dict[str, Any]]]:
    """(reference, rule body) of every security-group rule: inline and separate resources."""
    for stack, template in templates.items():
        for logical_id, body in (template.get("Resources") or {}).items():
            props = body.get("Properties") or {}
            if body.get("Type") == "AWS::EC2::SecurityGroup":
                for prop in ("SecurityGroupIngress", "SecurityGroupEgress"):
                    for index, rule in enumerate(props.get(prop) or []):
                        yield f"{stack}/{logical_id}/{prop}/{index}", rule
            elif body.get("Type") in ("AWS::EC2::SecurityGroupIngress", "AWS::EC2::SecurityGroupEgress"):
                yield f"{stack}/{logical_id}", props


def template_acl_entries(templates: Mapping[str, Mapping[str, Any]]) -> Iterator[tuple[str, dict[str, Any]]]:
    for stack, template in templates.items():
        for logical_id, body in (template.get("Resources") or {}).items():
            if body.get("Type") == "AWS::EC2::NetworkAclEntry":
                yield f"{stack}/{logical_id}", body.get("Properties") or {}


# A flow edge: its number as the label, its rules as the tooltip, its full text (protocol, port) as the comment.
_EDGE = re.compile(
    r"^\s*(\w+) -> (\w+) \[label=\"(?:[^\"\\]|\\.)*\".*?tooltip=\"([^\"]*)\", comment=\"((?:[^\"\\]|\\.)*)\"",
    re.MULTILINE,
)


def missing_flows(templates: Mapping[str, Mapping[str, Any]], dot_text: str, model: TemplateModel) -> list[str]:
    """Every security-group rule of the templates that no diagram shows as a flow, and every NACL entry
    that the rule review (which the network diagram's tier labels point to) does not list."""
    from evidence.workpapers import rule_review

    edges: dict[str, str] = {}
    for _, _, tooltip, label in _EDGE.findall(dot_text):
        for ref in tooltip.split("; "):
            edges[ref] = label
    rows = {row[7]: " ".join(row[1:5]) for row in rule_review(Topology(model))}
    missing = []
    for ref, rule in template_sg_rules(templates):
        if {k: rule.get(k) for k in NO_EGRESS} == NO_EGRESS:
            continue  # CDK's "no egress" marker matches no traffic; the group's node says "egress: none"
        label = edges.get(ref)
        port = str(rule.get("FromPort", ""))
        if label is None or (rule.get("IpProtocol") not in ("-1", -1) and port not in label):
            missing.append(f"security-group rule {ref} (port {port})")
    for ref, entry in template_acl_entries(templates):
        row = rows.get(ref, "")
        number, cidr = f"#{entry.get('RuleNumber')} ", str(entry.get("CidrBlock"))
        if number not in row or cidr not in row:
            missing.append(f"NACL entry {ref} ({number.strip()} {cidr})")
    return missing


def _network_dots(model: TemplateModel) -> str:
    return "".join(to_dot(network_diagram(t)) for t in Topology(model).regions.values())


# -- files ------------------------------------------------------------------------------------------
def test_report_and_both_diagrams_per_region_are_written(evidence: Evidence) -> None:
    names = {p.relative_to(evidence.directory).as_posix() for p in evidence.files}
    assert {f"{REPORT_NAME}.md", f"{REPORT_NAME}.html"} <= names
    regions = {stack.region for stack in evidence.model.stacks.values() if stack.region}
    for region in regions:
        for kind in ("network", "data-flow"):
            assert {f"{DIAGRAM_DIR}/{kind}-{region}.mmd", f"{DIAGRAM_DIR}/{kind}-{region}.dot"} <= names
    assert all(p.is_file() and p.stat().st_size > 0 for p in evidence.files)


def test_markdown_embeds_mermaid_that_github_renders(evidence: Evidence) -> None:
    text = evidence.read(f"{REPORT_NAME}.md")
    blocks = re.findall(r"```mermaid\n(.*?)```", text, re.DOTALL)
    # One block a page (issue 20: the pages, not the whole drawings, are what the report shows).
    full = 2 * len(Topology(evidence.model).regions) + 1  # + the security-services diagram
    pages_written = [p for p in evidence.files if p.suffix == ".mmd"]
    assert len(blocks) == len(pages_written) - full > full
    for block in blocks:
        lines = block.splitlines()
        assert lines[0] == "flowchart LR"
        for line in lines[1:]:
            stripped = line.strip()
            # Only the flowchart statements GitHub's Mermaid accepts, every label quoted.
            assert re.match(
                r'^(subgraph \w+\["[^"]*"\]|end|\w+\["[^"]*"\]|\w+ (-->|==>|-\.->)\|"[^"]*"\| \w+'
                r"|classDef \w+ \S+|class [\w,]+ \w+|style \w+ \S+|%% .*)$",
                stripped,
            ), stripped


def test_html_is_self_contained(evidence: Evidence) -> None:
    page = evidence.read(f"{REPORT_NAME}.html")
    assert page.startswith("<!DOCTYPE html>")
    assert not re.search(r"<(script|link|img|iframe)\b", page, re.IGNORECASE)
    assert not re.search(r"""(src|href)=["']?https?://""", page, re.IGNORECASE)
    assert "DIAGRAM-PLACEHOLDER" not in page
    assert "<table>" in page  # Markdown tables rendered


def test_report_names_tool_versions_and_commit_and_no_timestamp(evidence: Evidence) -> None:
    text = evidence.read(f"{REPORT_NAME}.md")
    for tool in ("aws-cdk-lib", "cdk-nag", "CDK CLI", "Graphviz"):
        assert f"- {tool}: `" in text
    assert re.search(r"- Git commit: `([0-9a-f]{40}|unknown)", text)
    # The only time is the generation time, from SOURCE_DATE_EPOCH or the commit: never the clock.
    times = re.findall(r"\b20\d\d-\d\d-\d\d[T ]\d\d:\d\d\S*", text)
    assert len(set(times)) <= 1, times
    assert re.search(r"- Source date: (\S+Z \((SOURCE_DATE_EPOCH|commit time)\)|unknown)", text)
    assert "generation time not recorded" in text


def test_provenance_block_hashes_every_template_and_states_what_is_pending(evidence: Evidence) -> None:
    text = evidence.read(f"{REPORT_NAME}.md")
    block = text.split("## Provenance", 1)[1].split("\n## ", 1)[0]
    for stack in evidence.model.stacks.values():
        assert stack.template_path is not None
        digest = hashlib.sha256(Path(stack.template_path).read_bytes()).hexdigest()
        assert f"| `{Path(stack.template_path).name}` | `{digest}` |" in block, stack.name
    assert "- Prepared by: pending; approved by: pending; approval date: pending" in block
    assert "- Deployed state: not verified" in block
    assert "- Last review: none recorded" in block
    assert "- Environment: PciLz-default; account(s): " in block
    assert "us-east-1" in block
    assert "| CDK asset hash | Source |" in block  # the vault's bundled code is an asset
    for name in (f.name for f in evidence.files if f.suffix in (".dot", ".mmd")):
        diagram = evidence.read(f"{DIAGRAM_DIR}/{name}")
        assert "Deployed state: not verified" in diagram, name
        assert "Prepared by pending; approved by pending" in diagram, name


def test_generation_time_comes_from_source_date_epoch_or_the_commit() -> None:
    assert generation_time(environ={"SOURCE_DATE_EPOCH": "1700000000"}) == "2023-11-14T22:13:20Z (SOURCE_DATE_EPOCH)"
    from_commit = generation_time(environ={})
    assert from_commit.endswith("(commit time)") or from_commit.startswith("unknown")


def test_attestation_and_a_recorded_review_are_printed(synthesized: Synthesized, tmp_path: Path) -> None:
    assembly = tmp_path / "assembly"
    shutil.copytree(synthesized.outdir, assembly, ignore=shutil.ignore_patterns(EVIDENCE_DIR))
    model = TemplateModel.from_assembly(assembly)
    attestation = Attestation(
        preparer="Jane Doe (platform)",
        approver="Raj Patel (CISO office)",
        approval_date="2026-11-30",
        last_review_date="2026-11-01",
        last_reviewed_commit="0" * 40,
    )
    files = write_compliance_evidence(
        assembly,
        model=model,
        results=evaluate(model, RULES),
        gate=synthesized.gate,
        report=synthesized.report,
        attestation=attestation,
    )
    text = next(f for f in files if f.suffix == ".md").read_text(encoding="utf-8")
    assert "- Prepared by: Jane Doe (platform); approved by: Raj Patel (CISO office); approval date: 2026-11-30" in text
    assert f"- Last review: 2026-11-01 at commit {'0' * 40}: diff unavailable" in text


# -- statements against the rules' results ---------------------------------------------------------------
def _reported_statuses(markdown: str) -> dict[str, str]:
    found = re.findall(r"^### (\d+(?:\.\d+)+) .*\n\n\*\*Template evidence: ([a-z ,]+)\*\*", markdown, re.MULTILINE)
    return dict(found)


def test_report_statements_agree_with_the_rule_results(evidence: Evidence, synthesized: Synthesized) -> None:
    text = evidence.read(f"{REPORT_NAME}.md")
    reported = _reported_statuses(text)
    mapped = {result.rule.id: set(result.rule.requirements) for result in evidence.results}
    excepted = {  # an exception of a v4.0.1 rule, for a requirement that rule examines
        req
        for entry, paths in synthesized.gate.acknowledged_paths.items()
        if paths
        for req in re.findall(r"\d+(?:\.\d+)+", entry.requirement)
        if req in mapped.get(entry.rule.split("::")[-1], set())
    }
    cited: set[str] = set()
    for result in evidence.results:
        for requirement in result.rule.requirements:
            assert requirement in reported, requirement
            section = text.split(f"\n### {requirement} ", 1)[1].split("\n### ", 1)[0]
            checks = result.for_requirement(requirement)
            if not checks and result.rule.absence:
                cited.add(requirement)
                assert f"- Synth rule `{result.rule.id}` (searched every template: none found;" in section
                continue
            if not checks:
                assert f"- Synth rule `{result.rule.id}` examined no resource here: not evidenced by it." in section
                continue
            cited.add(requirement)
            assert f"- Synth rule `{result.rule.id}` (examined {len(checks)}: " in section
            if result.failures:
                assert reported[requirement] in (OPEN, EXCEPTED), requirement
    for requirement, status in reported.items():
        if requirement not in cited:
            # Nothing examined for it: never a positive statement.
            assert status in (NOT_EVIDENCED, GENERATED, NOT_APPLICABLE), requirement
        elif status == PASSED:
            assert requirement not in excepted, requirement
    assert "met" not in reported.values()


def test_no_statement_rests_on_an_unrelated_or_idle_rule_or_another_packs_exception(evidence: Evidence) -> None:
    reported = _reported_statuses(evidence.read(f"{REPORT_NAME}.md"))
    # The examples: 6.4.3 rested on a Lambda concurrency finding, 12.10.1 on RDS backups,
    # 12.5.2 on a cfn-lint AZ warning, 8.2.2 on an idle rule and a trust-scoping rule.
    for requirement in ("6.4.3", "12.10.1"):
        assert reported[requirement] == NOT_EVIDENCED, requirement
    # 8.2.2 rests only on the absence of IAM users (searched, none found), never on trust scoping.
    section_822 = evidence.read(f"{REPORT_NAME}.md").split("\n### 8.2.2 ", 1)[1].split("\n### ", 1)[0]
    assert "`PCI4-IAM-TRUST-SCOPED` is related here, not evidence (supports it only)" in section_822
    assert "`PCI4-IAM-NO-USERS` (searched every template: none found;" in section_822
    assert "12.5.2" not in reported or reported["12.5.2"] == NOT_EVIDENCED
    for requirement in ("1.2.3", "1.2.4"):
        assert reported[requirement] == GENERATED
    text = evidence.read(f"{REPORT_NAME}.md")
    section = text.split("\n### 12.10.1 ", 1)[1].split("\n### ", 1)[0]
    assert "`PCI4-RDS-BACKUPS` is related here, not evidence (supports it only): backups are not" in section


def test_every_statement_names_its_testing_procedure_and_what_it_cannot_show(evidence: Evidence) -> None:
    text = evidence.read(f"{REPORT_NAME}.md")
    for requirement in _reported_statuses(text):
        section = text.split(f"\n### {requirement} ", 1)[1].split("\n### ", 1)[0]
        assert "- This evidence cannot show: " in section, requirement
        for line in section.splitlines():
            if line.startswith("- Synth rule") and "(examined" in line:
                assert re.search(r"supports \d+(\.\d+)+(\.[a-z])? \(", line), line
    assert "supports 1.3.1.b (examine NSC configurations" in text


def _one_check_rule(passed: bool, requirement: str) -> RuleResult:
    resource = Resource("S", "Key", "AWS::KMS::Key", {}, "S/Key")
    rule = Rule("TEST-RULE", (requirement,), "test rule", "fix it", lambda _: [])
    return RuleResult(rule, (Check(resource, passed, "" if passed else "broken"),))


def test_absence_is_its_own_status_and_never_carries_a_requirement_stated_beyond_the_templates() -> None:
    """r20 HIGH 3: a rule about absence that found none states "absence in the templates confirmed" (counted
    apart, never "examined, no findings"); where the section states an IAM user outside the templates (8.2.2:
    break-glass) the requirement is "not evidenced" beyond the templates."""
    from evidence.catalog import BEYOND_THE_TEMPLATES
    from evidence.report import ABSENCE, STATUS_ORDER

    gate, report = Gate(packs=(), acknowledged_paths={}), GateReport((), (), ())
    absent = RuleResult(Rule("NO-USERS", ("3.6.1", "8.2.2"), "no users", "fix", lambda _: [], absence=True), ())
    assert absent.evidence.startswith("absence in the templates confirmed: none found, and finding none is the")
    statuses = {s.requirement: s for s in requirement_statuses([absent], gate, report, config_rules=[])}
    assert statuses["3.6.1"].status == ABSENCE
    assert statuses["3.6.1"].rules[0].absence
    assert "8.2.2" in BEYOND_THE_TEMPLATES
    assert "break-glass" in BEYOND_THE_TEMPLATES["8.2.2"]
    assert statuses["8.2.2"].status == NOT_EVIDENCED
    assert statuses["8.2.2"].beyond == BEYOND_THE_TEMPLATES["8.2.2"]
    assert STATUS_ORDER.index(ABSENCE) > STATUS_ORDER.index(PASSED)
    # With a rule that examined a resource, the requirement is examined; absence alone never is.
    both = {s.requirement: s for s in requirement_statuses([absent, _one_check_rule(True, "3.6.1")], gate, report)}
    assert both["3.6.1"].status == PASSED


def test_the_default_report_counts_absence_apart_and_8_2_2_not_evidenced_beyond_the_templates(
    evidence: Evidence,
) -> None:
    from evidence.report import ABSENCE

    text = evidence.read(f"{REPORT_NAME}.md")
    reported = _reported_statuses(text)
    assert reported["8.2.2"] == NOT_EVIDENCED
    section = text.split("\n### 8.2.2 ", 1)[1].split("\n### ", 1)[0]
    assert "finding none is the evidence: absence in the templates confirmed" in section
    assert "- Not evidenced beyond the templates: the IAM user break-glass-1" in section
    summary = text.split("## Summary", 1)[1].split("\n## ", 1)[0]
    assert f"| {ABSENCE} | " in summary
    assert "8.2.2" not in next(line for line in summary.splitlines() if line.startswith(f"| {PASSED} |"))


def test_password_requirements_are_not_evidenced_for_the_only_iam_user_and_name_its_account(
    evidence: Evidence,
) -> None:
    """QSA reader r20c MEDIUM 2: 8.3.6/8.3.9 read "examined, no findings" on the password policy of an account
    where the templates create no IAM user, while break-glass-1 signs in to the identity account, whose policy
    no template sets; 8.3.1's reason for PCI4-IAM-NO-USERS said people reach AWS only through roles."""
    from config.defaults import PLACEHOLDER_ACCOUNT, PLACEHOLDER_IDENTITY_ACCOUNT
    from evidence.report import beyond_the_templates, password_policy_accounts, trusted_iam_users

    assert trusted_iam_users(evidence.model) == [(PLACEHOLDER_IDENTITY_ACCOUNT, "break-glass-1", "BreakGlass/Role")]
    assert password_policy_accounts(evidence.model) == [PLACEHOLDER_ACCOUNT]
    text = evidence.read(f"{REPORT_NAME}.md")
    reported = _reported_statuses(text)
    for requirement in ("8.3.6", "8.3.7", "8.3.9"):
        assert reported[requirement] == NOT_EVIDENCED, requirement
        section = text.split(f"\n### {requirement} ", 1)[1].split("\n### ", 1)[0]
        assert "- Synth rule `PCI4-ACCOUNT-GUARD-VALUES` (examined" in section  # the examination is still shown
        assert (
            f"- Not evidenced beyond the templates: the IAM password policy the templates set is that of account"
            f" {PLACEHOLDER_ACCOUNT}, where they create no IAM user" in section
        ), section
        assert f"break-glass-1 of account {PLACEHOLDER_IDENTITY_ACCOUNT}" in section
        assert f"no template sets the password policy of account {PLACEHOLDER_IDENTITY_ACCOUNT}" in section
    section_831 = text.split("\n### 8.3.1 ", 1)[1].split("\n### ", 1)[0]
    assert "only through roles" not in section_831
    assert f"break-glass-1 of account {PLACEHOLDER_IDENTITY_ACCOUNT}" in section_831
    # QSA reader r20d HIGH 3: the "cannot show" line names the user's real account, never a placeholder.
    cannot_show = next(line for line in section_831.splitlines() if line.startswith("- This evidence cannot show: "))
    assert f"arn:aws:iam::{PLACEHOLDER_IDENTITY_ACCOUNT}:user/break-glass-1" in cannot_show
    assert "arn:aws:iam::<account>" not in text
    # The user's account is where the policy is set: the examined policy is theirs, and the rule's result stands.
    same = TemplateModel(
        [
            *evidence.model.stacks.values(),
            StackTemplate(
                "Identity",
                {"Resources": {"Policy": _password_policy_call()}},
                account=PLACEHOLDER_IDENTITY_ACCOUNT,
                region="us-east-1",
            ),
        ]
    )
    assert not set(beyond_the_templates(same)) & {"8.3.6", "8.3.7", "8.3.9"}


def test_10_3_3_and_10_3_4_state_what_was_examined_and_the_other_log_sources_not_evidenced(evidence: Evidence) -> None:
    """QSA reader r20c MEDIUM 4: 10.3.4 read "examined, no findings" on the trail's log-file validation alone
    (digests raise no alert; validation runs on demand) and 10.3.3 cited the trail only, though it names the logs
    of external-facing technologies and the load balancer's log bucket stays in its region."""
    from evidence.workpapers import log_flows

    text = evidence.read(f"{REPORT_NAME}.md")
    reported = _reported_statuses(text)
    others = {f.source for f in log_flows(evidence.model) if not f.source.startswith("CloudTrail trail")}
    assert len(others) > 10
    for requirement in ("10.3.3", "10.3.4"):
        assert reported[requirement] == NOT_EVIDENCED, requirement
        section = text.split(f"\n### {requirement} ", 1)[1].split("\n### ", 1)[0]
        scope_line = next(line for line in section.splitlines() if line.startswith("- What the rules above examined"))
        assert "examined: CloudTrail trail" in scope_line
        assert "not evidenced: " in scope_line
        assert f"the other {len(others)} log sources of the logging paper" in scope_line
        for source in others:
            assert source in scope_line, (requirement, source)
    change = text.split("\n### 10.3.4 ", 1)[1].split("\n### ", 1)[0]
    assert "no alert is raised" in change
    assert "detect any change" not in change
    backup = text.split("\n### 10.3.3 ", 1)[1].split("\n### ", 1)[0]
    assert "external-facing technologies' logs stay where they are written" in backup
    assert "load balancer access logs" in backup


def test_10_3_2_is_not_examined_no_findings_on_encryption_alone(evidence: Evidence) -> None:
    """QSA reader r20d: 10.3.2 (log files protected from modification) read "examined, no findings" on the log
    stores' encryption and retention; encryption keeps logs confidential, it does not stop a principal allowed to
    delete or overwrite them. Scoped like 10.3.3/10.3.4: what was examined, and who could alter each store, not."""
    from evidence.workpapers import log_flows

    text = evidence.read(f"{REPORT_NAME}.md")
    assert _reported_statuses(text)["10.3.2"] == NOT_EVIDENCED
    section = text.split("\n### 10.3.2 ", 1)[1].split("\n### ", 1)[0]
    scope_line = next(line for line in section.splitlines() if line.startswith("- What the rules above examined"))
    assert "encryption is not protection from modification" in scope_line
    stores = {f.destination_text for f in log_flows(evidence.model)}
    assert f"who could delete or alter each of the {len(stores)} log stores of the logging paper" in scope_line
    for store in stores:
        assert store in scope_line, store


_RULE_LINE = re.compile(
    r"^- Synth rule `(?P<rule>[^`]+)` \(examined \d+: \d+ passed, (?P<failed>\d+) failed"
    r"(?:, (?P<excepted>\d+) under exception)?\).*Why it supports it: (?P<why>.*)\.$"
)


def test_no_reason_states_a_verdict_its_rule_s_results_or_scope_contradict(evidence: Evidence) -> None:
    """QSA reader r20c MEDIUM 5: "Why it supports it" said "no identity has an administrator policy" above its two
    exceptions, "no grant covers every action of a service" though AWS-managed policies are not read, that every
    resource "is the one deployed" though the Data templates carry the Secrets Manager transform, and that 3.7.4's
    cryptoperiod is the key policy's (it is the key's RotationPeriodInDays)."""
    text = evidence.read(f"{REPORT_NAME}.md")
    reasons: dict[str, set[str]] = {}
    for line in text.splitlines():
        if (match := _RULE_LINE.match(line)) is None:
            continue
        reasons.setdefault(match["rule"], set()).add(match["why"])
        if int(match["failed"]) or int(match["excepted"] or 0):  # a reason above findings claims no universal
            assert not match["why"].startswith(("no ", "every ", "all ", "inbound ", "privileges ")), line
    assert any(match.startswith("each identity it passed") for match in reasons["PCI4-IAM-NO-ADMIN-POLICY"])
    assert all("AWS-managed policies attached" in why for why in reasons["PCI4-IAM-NO-SERVICE-WILDCARD"])
    transforms = {
        t
        for stack in evidence.model.stacks.values()
        for t in ([stack.template.get("Transform")] if isinstance(stack.template.get("Transform"), str) else [])
    }
    assert "AWS::SecretsManager-2024-09-16" in transforms
    (transform_reason,) = reasons["PCI4-TEMPLATE-NO-TRANSFORMS"]
    assert "AWS::SecretsManager-2024-09-16" in transform_reason
    assert "hosted rotation function and its execution role" in transform_reason
    assert "no permissions boundary" in transform_reason
    assert "is the one deployed" not in transform_reason
    rotation = text.split("\n### 3.7.4 ", 1)[1].split("\n### ", 1)[0]
    assert "RotationPeriodInDays" in rotation
    assert "the cryptoperiod the key policy states" not in rotation


def _password_policy_call() -> dict[str, Any]:
    call = {"service": "IAM", "action": "updateAccountPasswordPolicy", "parameters": {"MinimumPasswordLength": 14}}
    return {"Type": "Custom::AWS", "Properties": {"Create": json.dumps(call)}}


def test_a_forks_pack_mapping_an_excluded_pair_again_is_named_not_cited() -> None:
    """Issue 20: the project's pack maps no excluded pair; a fork's pack that maps one again (here RDS
    storage encryption under 3.5.1, which is 3.5.1.2's subject) is named under the requirement with the
    review's reason and never listed as watching it."""
    from evidence.catalog import UNRELATED_CONFIG_RULES
    from evidence.report import ConfigRule

    gate, report = Gate(packs=(), acknowledged_paths={}), GateReport((), (), ())
    readded = ConfigRule("pci-dss-v4-rds-storage-encrypted", "RDS_STORAGE_ENCRYPTED", ("3.5.1",))
    statuses = {
        s.requirement: s
        for s in requirement_statuses([_one_check_rule(True, "3.5.1")], gate, report, config_rules=[readded])
    }
    assert statuses["3.5.1"].config_rules == []
    assert statuses["3.5.1"].excluded_config_rules == [
        ("pci-dss-v4-rds-storage-encrypted", UNRELATED_CONFIG_RULES[("pci-dss-v4-rds-storage-encrypted", "3.5.1")])
    ]


def test_a_security_hub_control_whose_config_rule_the_review_excludes_is_named_not_cited() -> None:
    """QSA reader r20b, finding 9: AWS maps S3.5 (s3-bucket-ssl-requests-only) to 4.2.1; the evidence holds the
    bucket TLS policy an internal-transit note there, so S3.5 is named with that reason, not as watching 4.2.1."""
    from evidence.catalog import INTERNAL_TRANSIT
    from evidence.report import ConfigRule

    gate, report = Gate(packs=(), acknowledged_paths={}), GateReport((), (), ())
    ssl = ConfigRule("pci-dss-v4-s3-bucket-ssl-requests-only", "S3_BUCKET_SSL_REQUESTS_ONLY", ())
    statuses = {
        s.requirement: s
        for s in requirement_statuses([_one_check_rule(True, "4.2.1")], gate, report, config_rules=[ssl])
    }
    assert "S3.5" not in statuses["4.2.1"].security_hub
    ((name, why),) = statuses["4.2.1"].excluded_config_rules
    assert name == "Security Hub S3.5"
    assert why.startswith(INTERNAL_TRANSIT)


def test_a_process_requirement_rests_on_prerequisites_and_is_not_evidenced() -> None:
    """r20 MEDIUM 4: 10.4.2 (periodic log review), 12.3.4 (yearly technology review), 11.5.2 (weekly change
    detection): a passing rule there examines a prerequisite, stated as such and counted as not evidenced."""
    from evidence.report import PREREQUISITE

    gate, report = Gate(packs=(), acknowledged_paths={}), GateReport((), (), ())
    for requirement in ("10.4.2", "12.3.4", "11.5.2"):
        (entry,) = [
            s
            for s in requirement_statuses([_one_check_rule(True, requirement)], gate, report, config_rules=[])
            if s.requirement == requirement
        ]
        assert entry.status == NOT_EVIDENCED, requirement
        assert entry.rules[0].prerequisite
        assert entry.process
    failing = requirement_statuses([_one_check_rule(False, "10.4.2")], gate, report, config_rules=[])
    assert {s.requirement: s.status for s in failing}["10.4.2"] == OPEN  # a failed prerequisite is still open
    assert PREREQUISITE == "supports; the requirement itself is a process: not evidenced"


def test_the_default_report_states_10_4_2_12_3_4_and_11_5_2_as_prerequisites(evidence: Evidence) -> None:
    from evidence.report import PREREQUISITE

    text = evidence.read(f"{REPORT_NAME}.md")
    reported = _reported_statuses(text)
    for requirement in ("10.4.2", "12.3.4", "11.5.2"):
        assert reported[requirement] == NOT_EVIDENCED, requirement
        section = text.split(f"\n### {requirement} ", 1)[1].split("\n### ", 1)[0]
        lines = [line for line in section.splitlines() if line.startswith("- Synth rule") and "(examined" in line]
        assert lines, requirement
        assert all(
            f"a prerequisite that supports {requirement}" in line and PREREQUISITE.split("; ")[1] in line
            for line in lines
        ), requirement


def test_a_failing_rule_states_open_findings_a_passing_one_examined_and_an_idle_one_not_evidenced() -> None:
    gate, report = Gate(packs=(), acknowledged_paths={}), GateReport((), (), ())
    failing = {s.requirement: s for s in requirement_statuses([_one_check_rule(False, "3.6.1")], gate, report)}
    assert failing["3.6.1"].status == OPEN
    assert failing["3.6.1"].rules[0].failed == ["S/Key: broken"]
    passing = {s.requirement: s for s in requirement_statuses([_one_check_rule(True, "3.6.1")], gate, report)}
    assert passing["3.6.1"].status == PASSED
    assert passing["3.6.1"].resources == ["S/Key"]
    assert passing["3.6.1"].rules[0].examined == 1
    idle = RuleResult(Rule("IDLE", ("3.6.1",), "idle", "fix", lambda _: []), ())
    nothing = {s.requirement: s for s in requirement_statuses([idle], gate, report)}
    assert nothing["3.6.1"].status == NOT_EVIDENCED
    assert nothing["3.6.1"].idle_rules == ["IDLE"]


def test_customer_responsibilities_say_what_to_do(evidence: Evidence) -> None:
    text = evidence.read(f"{REPORT_NAME}.md")
    for requirement in ("11.3.2", "11.4.1", "12.10.1"):
        section = text.split(f"### {requirement} ", 1)[1].split("\n### ", 1)[0]
        assert "Customer responsibility: " in section


# -- diagrams against the templates ---------------------------------------------------------------
def test_every_security_group_rule_and_nacl_entry_is_a_flow_in_the_diagrams(evidence: Evidence) -> None:
    templates = _templates(evidence.model)
    assert list(template_sg_rules(templates))
    assert list(template_acl_entries(templates))
    dots = "".join(
        (evidence.directory / DIAGRAM_DIR / f"network-{region}.dot").read_text(encoding="utf-8")
        for region in Topology(evidence.model).regions
    )
    assert missing_flows(templates, dots, evidence.model) == []
    # The NACL tables are in the rule review, not drawn: each tier's label names its NACL and its count.
    # No node is a table (the NACL tables were `shape=plain` nodes); the heading's and the clusters' labels
    # are tables a line a row.
    assert "shape=plain" not in dots
    assert re.search(r"NACL [^\\]+: \d+ entries \(rule review\)", dots)


def _with_extra_rules(model: TemplateModel) -> dict[str, Any]:
    """The default templates plus SSH from 10.0.0.0/8 to the database group and a NACL entry."""
    templates: dict[str, Any] = copy.deepcopy(_templates(model))
    network = next(n for n in templates if "-Network-" in n)
    resources = templates[network]["Resources"]
    database_sg = next(k for k, v in resources.items() if v["Type"] == "AWS::EC2::SecurityGroup" and "Database" in k)
    acl = next(k for k, v in resources.items() if v["Type"] == "AWS::EC2::NetworkAcl" and "Cde" in k)
    resources["ExtraSshIngress"] = {
        "Type": "AWS::EC2::SecurityGroupIngress",
        "Properties": {
            "GroupId": {"Fn::GetAtt": [database_sg, "GroupId"]},
            "IpProtocol": "tcp",
            "FromPort": 22,
            "ToPort": 22,
            "CidrIp": "10.0.0.0/8",
        },
    }
    resources["ExtraAclEntry"] = {
        "Type": "AWS::EC2::NetworkAclEntry",
        "Properties": {
            "NetworkAclId": {"Ref": acl},
            "RuleNumber": 990,
            "Protocol": 6,
            "RuleAction": "allow",
            "Egress": False,
            "CidrBlock": "10.0.0.0/8",
            "PortRange": {"From": 22, "To": 22},
        },
    }
    return templates


def _model_like(model: TemplateModel, templates: Mapping[str, Mapping[str, Any]]) -> TemplateModel:
    return TemplateModel(
        StackTemplate(name, templates[name], stack.account, stack.region, stack.assembly)
        for name, stack in model.stacks.items()
    )


def test_a_rule_added_to_a_template_but_missing_from_the_diagram_is_noticed(evidence: Evidence) -> None:
    changed = _with_extra_rules(evidence.model)
    stale_diagrams = _network_dots(evidence.model)
    missing = missing_flows(changed, stale_diagrams, evidence.model)
    assert len(missing) == 2, missing
    assert any("ExtraSshIngress" in m for m in missing)
    assert any("ExtraAclEntry" in m for m in missing)
    changed_model = _model_like(evidence.model, changed)
    fresh = _network_dots(changed_model)
    assert missing_flows(changed, fresh, changed_model) == []
    assert re.search(r'comment="tcp 22\\nCIDR \(ingress\)"', fresh)


def test_mermaid_and_dot_carry_the_same_flows(evidence: Evidence) -> None:
    for built in build_diagrams(evidence.model):
        flows = [e for e in built.diagram.edges if e.kind in ("flow", "data")]
        assert built.dot.count("tooltip=") >= len([e for e in flows if e.refs])
        arrows = re.findall(r"^\s+\w+ (-->|==>|-\.->)\|", built.mermaid, re.MULTILINE)
        assert len(arrows) == len(built.diagram.edges)


def test_network_diagram_shows_tiers_subnets_per_az_gateways_and_the_cde_boundary(evidence: Evidence) -> None:
    for region, topo in Topology(evidence.model).regions.items():
        dot = to_dot(network_diagram(topo))
        for tier in ("Public tier", "Application tier", "Cde tier", "CDE boundary"):
            assert tier in dot, (region, tier)
        for subnet in topo.subnets:
            assert f"{subnet.tier} subnet {subnet.az}\\n{subnet.cidr}" in dot
        assert "Internet gateway" in dot
        assert "NAT gateway" in dot
        assert "Gateway endpoint\\ns3" in dot
        assert "Interface endpoints: kms, logs,\\nsecretsmanager, sts" in dot  # wrapped at 44 characters
        cde_cluster = dot.split("CDE boundary", 1)[1]
        assert "RDS DB instance" in cde_cluster
        assert "RDS Proxy" in cde_cluster


def _path_exists(edges: list[tuple[str, str]], start: str, goal: str) -> bool:
    seen, frontier = {start}, [start]
    while frontier:
        node = frontier.pop()
        for a, b in edges:
            if a == node and b not in seen:
                seen.add(b)
                frontier.append(b)
    return goal in seen


def test_data_flow_follows_card_data_from_client_through_alb_waf_proxy_to_database_and_kms(
    evidence: Evidence,
) -> None:
    for topo in Topology(evidence.model).regions.values():
        diagram = data_flow_diagram(evidence.model, topo)
        labels = {n.id: n.label for n in diagram.nodes.values()}
        data = [(e.source, e.target) for e in diagram.edges if e.kind == "data"]
        waf = next(i for i, label in labels.items() if label.startswith("AWS WAF"))
        alb = next(i for i, label in labels.items() if label.startswith("Application Load Balancer"))
        proxy = next(i for i, label in labels.items() if "RDS Proxy" in label)
        database = next(i for i, label in labels.items() if "RDS DB instance" in label)
        assert ("client", alb) in data  # TLS ends at the load balancer,
        assert (alb, waf) in data  # which sends each request to AWS WAF for inspection
        assert ("client", waf) not in data
        assert _path_exists(data, "client", proxy)
        assert _path_exists(data, proxy, database)
        keys = [e for e in diagram.edges if e.kind == "key"]
        assert any(e.target == database and "storage" in e.detail for e in keys)
        assert any("cardholder-data" in labels[e.source] for e in keys)
        cde = next(c for c in diagram.clusters if c.kind == "cde")
        assert {proxy, database} <= set(cde.nodes)


def test_data_flow_picks_up_lambda_targets_behind_the_load_balancer(evidence: Evidence) -> None:
    """A vault function in the application tier, behind an ALB listener rule (as the workload adds it)."""
    templates: dict[str, Any] = copy.deepcopy(_templates(evidence.model))
    region = next(iter(Topology(evidence.model).regions))
    network = next(n for n in templates if n.endswith(f"-Network-{region}"))
    edge = next(n for n in templates if n.endswith(f"-Edge-{region}"))
    net = templates[network]["Resources"]
    app_sg = next(k for k, v in net.items() if v["Type"] == "AWS::EC2::SecurityGroup" and "Application" in k)
    subnets = [k for k, v in net.items() if v["Type"] == "AWS::EC2::Subnet" and "Application" in k]
    net["VaultTokenize"] = {
        "Type": "AWS::Lambda::Function",
        "Properties": {
            "FunctionName": "pci-lz-vault-tokenize",
            "VpcConfig": {
                "SecurityGroupIds": [{"Fn::GetAtt": [app_sg, "GroupId"]}],
                "SubnetIds": [{"Ref": s} for s in subnets],
            },
        },
    }
    net["VaultTargets"] = {
        "Type": "AWS::ElasticLoadBalancingV2::TargetGroup",
        "Properties": {"TargetType": "lambda", "Targets": [{"Id": {"Fn::GetAtt": ["VaultTokenize", "Arn"]}}]},
    }
    templates[network].setdefault("Outputs", {})["VaultTargetsArn"] = {
        "Value": {"Ref": "VaultTargets"},
        "Export": {"Name": "test-vault-targets"},
    }
    edge_resources = templates[edge]["Resources"]
    https = next(
        k
        for k, v in edge_resources.items()
        if v["Type"] == "AWS::ElasticLoadBalancingV2::Listener" and v["Properties"].get("Protocol") == "HTTPS"
    )
    edge_resources["VaultRule"] = {
        "Type": "AWS::ElasticLoadBalancingV2::ListenerRule",
        "Properties": {
            "ListenerArn": {"Ref": https},
            "Priority": 10,
            "Actions": [{"Type": "forward", "TargetGroupArn": {"Fn::ImportValue": "test-vault-targets"}}],
            "Conditions": [],
        },
    }
    model = _model_like(evidence.model, templates)
    topo = Topology(model).regions[region]
    diagram = data_flow_diagram(model, topo)
    vault = next(n for n in diagram.nodes.values() if "pci-lz-vault-tokenize" in n.label)
    assert any(e.target == vault.id and e.detail.startswith("invoke") for e in diagram.edges)
    assert "pci-lz-vault-tokenize" in to_mermaid(network_diagram(topo))


# -- determinism and rendering ----------------------------------------------------------------------
def test_two_runs_on_one_commit_write_byte_identical_evidence(synthesized: Synthesized, tmp_path: Path) -> None:
    outputs = []
    for run in ("first", "second"):
        assembly = tmp_path / run
        shutil.copytree(synthesized.outdir, assembly, ignore=shutil.ignore_patterns(EVIDENCE_DIR))
        files = write_evidence_for_assembly(assembly, synthesized.gate, synthesized.report)
        outputs.append({p.relative_to(assembly).as_posix(): p.read_bytes() for p in files})
    assert outputs[0].keys() == outputs[1].keys()
    # The manifest (every evidence file's SHA-256) is among the bytes compared.
    assert f"{EVIDENCE_DIR}/{MANIFEST_NAME}" in outputs[0]
    differing = [name for name in outputs[0] if outputs[0][name] != outputs[1][name]]
    assert differing == []


def test_ci_has_graphviz_so_rendering_is_tested() -> None:
    if not os.environ.get("CI"):
        pytest.skip("outside CI, rendering is tested when Graphviz is installed")
    assert DOT is not None, ".ci/run installs Graphviz before make test"


def test_a_file_an_earlier_run_left_is_neither_kept_nor_listed(synthesized: Synthesized, tmp_path: Path) -> None:
    """A renamed page, an old work paper, a PDF printed from the last report, a per-environment set of a
    stage that is gone: removed before the evidence is written, never in the manifest; the gate's
    report and a file the evidence does not own stay, the latter unlisted."""
    assembly = tmp_path / "cdk.out"
    shutil.copytree(synthesized.outdir, assembly, ignore=shutil.ignore_patterns(EVIDENCE_DIR))
    directory = assembly / EVIDENCE_DIR
    stale = [
        directory / DIAGRAM_DIR / "network-us-east-1-renamed-tier.svg",
        directory / WORKPAPER_DIR / "retired-paper.csv",
        directory / f"{REPORT_NAME}.pdf",
        directory / "gone-stage" / f"{REPORT_NAME}.md",
    ]
    for path in [*stale, directory / "notes.txt"]:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("from a previous run\n", encoding="utf-8")
    shutil.copy(synthesized.outdir / EVIDENCE_DIR / "gate-report.json", directory)  # the gate writes it first
    files = write_evidence_for_assembly(assembly, synthesized.gate, synthesized.report)
    listed = (directory / MANIFEST_NAME).read_text(encoding="utf-8")
    for path in stale:
        assert not path.exists(), path
        assert path.relative_to(directory).as_posix() not in listed
    assert not (directory / "gone-stage").exists()
    assert (directory / "notes.txt").is_file()
    assert "notes.txt" not in listed
    assert "  gate-report.json\n" in listed
    assert {p.relative_to(directory).as_posix() for p in files if p.name != MANIFEST_NAME} | {"gate-report.json"} == {
        line.split("  ", 1)[1] for line in listed.splitlines()
    }


@pytest.mark.skipif(DOT is None, reason=NO_DOT)
def test_dot_renders_svg_and_png_with_tiers_boundary_and_labelled_flows(evidence: Evidence, tmp_path: Path) -> None:
    # The synth writes SVG only; `make evidence-png` (add_png) adds a PNG of every drawing and lists it.
    assert not list(evidence.directory.rglob("*.png"))
    directory = tmp_path / EVIDENCE_DIR
    shutil.copytree(evidence.directory, directory)
    added = add_png(directory)
    drawings = {p.stem for p in (directory / DIAGRAM_DIR).glob("*.dot")}
    assert {p.stem for p in added} == drawings
    listed = (directory / MANIFEST_NAME).read_text(encoding="utf-8")
    for region in Topology(evidence.model).regions:
        for kind in ("network", "data-flow"):
            png = (directory / DIAGRAM_DIR / f"{kind}-{region}.png").read_bytes()
            assert png.startswith(b"\x89PNG\r\n\x1a\n")
            assert f"  {DIAGRAM_DIR}/{kind}-{region}.png\n" in listed
            assert f"  {DIAGRAM_DIR}/{kind}-{region}.svg\n" in listed  # what it listed before stays listed
        svg = (evidence.directory / DIAGRAM_DIR / f"network-{region}.svg").read_text(encoding="utf-8")
        for text in ("Public tier", "Application tier", "Cde tier", "CDE boundary", "tcp 8443", "tcp 5432"):
            assert text in svg, text
    page = evidence.read(f"{REPORT_NAME}.html")
    # Each diagram inline at least once (in legible parts when wide), scaled by its viewBox alone.
    full = {f"{kind}-{region}" for region in Topology(evidence.model).regions for kind in ("network", "data-flow")}
    full.add("security-services")
    # Every page inline, each whole drawing a linked reference file only (issue 20).
    names = {p.stem for p in evidence.files if p.suffix == ".svg"} - full
    assert all(any(name.startswith(f"{f}-") for f in full) for name in names)
    assert set(re.findall(r'<figure class="diagram" data-diagram="([^"]+)">', page)) == names
    assert page.count("<svg") == page.count('<figure class="diagram"')
    assert not re.search(r"<svg[^>]*\swidth=", page)
    for name in names | full:
        assert f'<a href="{DIAGRAM_DIR}/{name}.svg">' in page


@pytest.mark.skipif(DOT is None, reason=NO_DOT)
def test_svg_viewbox_holds_the_whole_drawing(evidence: Evidence) -> None:
    """Graphviz writes an unscaled viewBox when the graph sets dpi; the files carry the corrected one."""
    for path in evidence.files:
        if path.suffix == ".svg":
            svg = path.read_text(encoding="utf-8")
            size = re.search(r'<svg width="([\d.]+)pt" height="([\d.]+)pt"', svg)
            box = re.search(r'viewBox="[-\d.]+ [-\d.]+ ([\d.]+) ([\d.]+)"', svg)
            assert size is not None, path.name
            assert box is not None, path.name
            # The viewBox spans the drawing's full size (pt), not 72/dpi of it.
            assert abs(float(box[1]) - float(size[1])) / float(size[1]) < 0.01, path.name


def test_an_unknown_tier_and_a_firewall_route_are_drawn_generically(evidence: Evidence) -> None:
    """A firewall tier per AZ, as a Network Firewall adds it: its own cluster, its endpoint as a route target."""
    templates: dict[str, Any] = copy.deepcopy(_templates(evidence.model))
    region = next(iter(Topology(evidence.model).regions))
    network = next(n for n in templates if n.endswith(f"-Network-{region}"))
    resources = templates[network]["Resources"]
    vpc = next(k for k, v in resources.items() if v["Type"] == "AWS::EC2::VPC")
    app_table = next(k for k, v in resources.items() if v["Type"] == "AWS::EC2::RouteTable" and "Application" in k)
    resources["FirewallSubnetA"] = {
        "Type": "AWS::EC2::Subnet",
        "Properties": {
            "VpcId": {"Ref": vpc},
            "AvailabilityZone": f"{region}a",
            "CidrBlock": "10.10.240.0/28",
            "Tags": [{"Key": "aws-cdk:subnet-name", "Value": "Firewall"}],
        },
    }
    resources["Firewall"] = {
        "Type": "AWS::NetworkFirewall::Firewall",
        "Properties": {
            "FirewallName": "pci-lz-inspection",
            "SubnetMappings": [{"SubnetId": {"Ref": "FirewallSubnetA"}}],
        },
    }
    resources["InspectedEgress"] = {
        "Type": "AWS::EC2::Route",
        "Properties": {
            "RouteTableId": {"Ref": app_table},
            "DestinationCidrBlock": "0.0.0.0/0",
            "VpcEndpointId": {
                "Fn::Select": [
                    1,
                    {"Fn::Split": [":", {"Fn::Select": [0, {"Fn::GetAtt": ["Firewall", "EndpointIds"]}]}]},
                ]
            },
        },
    }
    topo = Topology(_model_like(evidence.model, templates)).regions[region]
    assert "Firewall" in topo.tiers
    dot = to_dot(network_diagram(topo))
    assert "Firewall tier" in dot
    assert f"Firewall subnet {region}a\\n10.10.240.0/28" in dot
    # The endpoint inside its own subnet's tier, named with its Availability Zone.
    firewall_tier = dot.split('label="Firewall tier"', 1)[1].split("subgraph", 1)[0]
    assert f"AWS Network Firewall endpoint {region}a\\npci-lz-inspection" in firewall_tier


def test_evidence_attribution_is_validated_and_printed_from_the_environment_config() -> None:
    from pydantic import ValidationError

    from config.models import EvidenceConfig
    from evidence.report import attestation_of

    with pytest.raises(ValidationError, match="other than the preparer"):
        EvidenceConfig(preparer="Jane Doe", approver="jane doe")
    with pytest.raises(ValidationError, match="40-character"):
        EvidenceConfig(last_review_date=date(2026, 11, 1), last_reviewed_commit="abc123")
    with pytest.raises(ValidationError, match="needs an approver"):
        EvidenceConfig(approval_date=date(2026, 11, 30))
    assert attestation_of(EvidenceConfig()) == Attestation()
    set_ = attestation_of(EvidenceConfig(preparer="Jane Doe", approver="Raj Patel", approval_date=date(2026, 11, 30)))
    assert (set_.preparer, set_.approver, set_.approval_date) == ("Jane Doe", "Raj Patel", "2026-11-30")


def test_the_exception_register_shows_each_entrys_governance_from_the_applied_api(
    evidence: Evidence, synthesized: Synthesized
) -> None:
    from compliance.applied import applied_acknowledgments

    text = evidence.read(f"{REPORT_NAME}.md")
    register = text.split("### Exception register (acknowledgments)", 1)[1].split("\n## ", 1)[0]
    assert "| Owner | Approver | Approved | Ticket | Review by | Accepted by |" in register
    applied = [a for a in applied_acknowledgments(synthesized.gate) if a.constructs]
    assert applied
    for ack in applied:
        g = ack.governance
        row = f"| {g.owner} | {g.approver} | {g.approval_date} | {g.ticket} | {g.review_by.isoformat()} |"
        assert row in register, ack.selector
    assert "the project's (registry), not adopted by this environment" in register
    assert "the project's (construct SegmentedVpc), not adopted" in register


# -- work papers ------------------------------------------------------------------------------------
def test_rule_review_lists_every_sg_rule_nacl_entry_and_route_with_flags(evidence: Evidence) -> None:
    from evidence.workpapers import NOT_EVIDENCED as APPROVAL
    from evidence.workpapers import rule_review

    topology = Topology(evidence.model)
    rows = rule_review(topology)
    refs = {row[7] for row in rows}
    for regional in topology.regions.values():
        assert {r.ref for r in regional.sg_rules} <= refs
        assert {e.ref for e in regional.acl_entries} <= refs
        assert len([r for r in rows if r[0] == regional.region and r[2] == "route"]) == len(regional.routes)
    # Raw template check: every NACL entry of the JSON is a row.
    assert {ref for ref, _ in template_acl_entries(_templates(evidence.model))} <= refs
    assert not [r for r in rows if r[3].endswith("tcp 80")], "the edge has no port-80 listener to admit"
    https = [r for r in rows if r[2] == "ingress" and r[3].endswith("tcp 443") and r[4] == "0.0.0.0/0"]
    assert https
    assert all("0.0.0.0/0" in r[6] for r in https)
    assert any("ephemeral range" in r[6] for r in rows)
    # Every NACL entry's stated need is the one its template carries (pci-lz:need), never a flag.
    needs = {
        f"{stack}/{logical_id}": (body.get("Metadata") or {}).get("pci-lz:need")
        for stack, template in _templates(evidence.model).items()
        for logical_id, body in (template.get("Resources") or {}).items()
        if body.get("Type") == "AWS::EC2::NetworkAclEntry"
    }
    acl_rows = [r for r in rows if r[1].startswith("NACL")]
    assert len(acl_rows) == len(needs)
    for row in acl_rows:
        assert needs[row[7]], row
        assert row[5] == needs[row[7]], row
        assert "no justification in the template" not in row[6], row
    # QSA reader r20b: every route states its need (pci-lz:need on the route, or on the gateway endpoint whose
    # prefix-list route it is); a route without one is flagged like an undescribed rule.
    route_rows = [r for r in rows if r[2] == "route"]
    assert route_rows
    for row in route_rows:
        assert row[5] != "-", row
        assert "no justification in the template" not in row[6], row
    text = evidence.read(f"{REPORT_NAME}.md")
    assert f"Each: {APPROVAL}" in text


def test_rule_review_lists_every_firewall_rule_and_waf_rule(evidence: Evidence) -> None:
    """From the raw JSON: every Network Firewall rule-group domain and policy default action, and every
    WAF web ACL rule and default action, is a row of the rule review under its template reference."""
    from evidence.workpapers import rule_review

    rows = rule_review(Topology(evidence.model))
    seen = 0
    for stack, template in _templates(evidence.model).items():
        for logical_id, body in (template.get("Resources") or {}).items():
            props, ref = body.get("Properties") or {}, f"{stack}/{logical_id}"
            mine = [r for r in rows if r[7] == ref]
            if body.get("Type") == "AWS::NetworkFirewall::RuleGroup":
                targets = props["RuleGroup"]["RulesSource"]["RulesSourceList"]["Targets"]
                assert sorted(r[4] for r in mine) == sorted(targets), ref
                assert all(r[5] == props["Description"] for r in mine)
                seen += 1
            elif body.get("Type") == "AWS::NetworkFirewall::FirewallPolicy":
                defaults = [k for k in props["FirewallPolicy"] if k.endswith("DefaultActions")]
                assert sorted(r[3].split(":")[0] for r in mine) == sorted(defaults), ref
                assert any("aws:drop_established" in r[3] for r in mine)
            elif body.get("Type") == "AWS::WAFv2::WebACL":
                names = [rule["Name"] for rule in sorted(props["Rules"], key=lambda rule: rule["Priority"])]
                assert [r[1].split(" rule ", 1)[1].split(" ", 1)[1] for r in mine[1:]] == names, ref
                assert mine[0][2] == "default action"
                assert all(r[1].startswith(f"web ACL {props['Name']}") for r in mine)
                assert any("managed rule group AWS/AWSManagedRulesCommonRuleSet" in r[4] for r in mine)
                assert any(r[3] == "Block" and "requests per 300 s per IP" in r[4] for r in mine)
                seen += 1
    assert seen >= 4  # a rule group and a web ACL per region


def test_inventory_puts_everything_that_handles_card_data_inside_the_cde(evidence: Evidence) -> None:
    from evidence.workpapers import CDE, inventory

    rows = inventory(evidence.model, Topology(evidence.model))
    cde = {(row[0], row[2]) for row in rows if row[6] == CDE}
    types = {t for t, _ in cde}
    for expected in (
        "AWS::WAFv2::WebACL",
        "AWS::ElasticLoadBalancingV2::LoadBalancer",
        "AWS::RDS::DBInstance",
        "AWS::RDS::DBProxy",
        "AWS::KMS::Key",
        "AWS::EC2::Subnet",
    ):
        assert expected in types, expected
    paths = {p for _, p in cde}
    for function in ("CardVault/Api", "CardVault/Detokenize", "CardVault/Purge"):
        assert any(function in p for p in paths), function
    assert any("CardholderDataKey" in p for p in paths)
    assert any("ApplicationSubnet" in p for p in paths)  # the vault's functions run there
    assert not any("LogsKey" in p for p in paths)
    assert all(row[7] for row in rows)  # every category states its basis


def test_keys_table_separates_administrators_from_users(evidence: Evidence) -> None:
    from evidence.workpapers import keys

    rows = {row[0] + " " + row[1]: row for row in keys(evidence.model)}
    cardholder = next(row for name, row in rows.items() if "CardholderDataKey" in name)
    assert "pci-lz-key-administrator" in cardholder[3]
    assert "pci-lz-key-administrator" not in cardholder[4]
    assert cardholder[2] == "automatic, every 365 days (RotationPeriodInDays)"  # QSA reader r20f: from the key
    assert "DBInstance" in cardholder[5]
    # QSA reader r20b MEDIUM 8: the stores each key protects, and whether its policy denies use to everyone
    # else; the cardholder-data key has no such deny, so the account-root exposure is stated, not left out.
    assert "DBInstance" in cardholder[8]
    assert "vault.cards PAN" in cardholder[8]
    assert "the account-root statement (kms:* for the account) lets any principal" in cardholder[9]
    # QSA reader r20f: every Deny with its principals and conditions, and the key administrator shown with what
    # the deny naming it refuses (it manages the key, never uses it).
    assert "KeyAdministratorsNeverUseTheKey: denies" in cardholder[9]
    assert "(denied " in cardholder[3]
    secrets = next(row for name, row in rows.items() if "SecretsKey" in name)
    assert "DenyUseOutsideSecretsManager: denies" in secrets[9]
    assert "where Bool aws:PrincipalIsAWSService false; StringNotEquals kms:ViaService secretsmanager." in secrets[9]


def test_a_delivery_synth_writes_one_evidence_set_per_environment_titled_by_it(
    delivered: Delivered, tmp_path: Path
) -> None:
    assembly = tmp_path / "cdk.out"
    shutil.copytree(delivered.outdir, assembly, ignore=shutil.ignore_patterns(EVIDENCE_DIR))
    model = TemplateModel.from_assembly(assembly)
    files = write_compliance_evidence(
        assembly,
        model=model,
        results=evaluate(model, RULES),
        gate=delivered.gate,
        report=delivered.report,
        attestations={"prod": Attestation(preparer="Jane Doe (platform)")},
    )
    top = (assembly / EVIDENCE_DIR / f"{REPORT_NAME}.md").read_text(encoding="utf-8")
    assert top.splitlines()[0] == (
        "# PCI DSS v4.0.1 compliance evidence: delivery PciLz-delivery (per-environment sets: preprod, prod)"
    )
    for environment in ("preprod", "prod"):
        directory = assembly / EVIDENCE_DIR / environment
        text = (directory / f"{REPORT_NAME}.md").read_text(encoding="utf-8")
        assert text.splitlines()[0] == f"# PCI DSS v4.0.1 compliance evidence: environment {environment}"
        other = "prod" if environment == "preprod" else "preprod"
        for dot in (directory / DIAGRAM_DIR).glob("*.dot"):
            body = dot.read_text(encoding="utf-8")
            assert f"PciLz-{other}-" not in body, (environment, dot.name)
        assert directory / f"{REPORT_NAME}.html" in files
        preparer = "Jane Doe (platform)" if environment == "prod" else "pending"
        assert f"- Prepared by: {preparer};" in text


def test_the_synth_s_own_path_writes_a_delivery_s_evidence_per_environment(
    delivered: Delivered, tmp_path: Path
) -> None:
    """QSA reader r20c HIGH 1: `cdk synth -c delivery=default` wrote one merged report, because the synth's model
    is the policy-validation plugin's (`TemplateModel.from_template_paths`), which did not know each template's
    Stage. Written here as `app.main` writes it, from the delivery synth's own plugin model and results."""
    from app import write_synth_evidence

    plugin_model = delivered.gate.pci_dss_v4.model
    assert plugin_model is not None
    assert {stack.assembly for stack in plugin_model.stacks.values()} == {"", "assembly-preprod", "assembly-prod"}
    assembly = tmp_path / "cdk.out"
    shutil.copytree(delivered.outdir, assembly, ignore=shutil.ignore_patterns(EVIDENCE_DIR))
    zones = [stage.zone for stage in delivered.delivery.stages.values()]
    files = write_synth_evidence(assembly, zones, delivered.gate, delivered.report)
    top = assembly / EVIDENCE_DIR
    title = "# PCI DSS v4.0.1 compliance evidence: delivery PciLz-delivery (per-environment sets: preprod, prod)"
    assert (top / f"{REPORT_NAME}.md").read_text(encoding="utf-8").splitlines()[0] == title
    accounts = {zone.config.name: zone.config.account for zone in zones}
    assert len({*accounts.values(), delivered.config.tooling.account}) == 3
    for environment, account in accounts.items():
        directory = top / environment
        assert directory / f"{REPORT_NAME}.md" in files
        text = (directory / f"{REPORT_NAME}.md").read_text(encoding="utf-8")
        assert text.splitlines()[0] == f"# PCI DSS v4.0.1 compliance evidence: environment {environment}"
        # One subject per set: the environment's own account in its environment line and on every inventory
        # row; another account appears only where the 11.4.5 paper names the other environments of the
        # configuration as what the CDE is segmented from.
        environment_line = next(line for line in text.splitlines() if line.startswith("- Environment: "))
        assert environment_line.startswith(f"- Environment: environment {environment}; account(s): {account};")
        inventory = json.loads((directory / "workpapers" / "inventory.json").read_text(encoding="utf-8"))
        assert inventory["rows"]
        assert {row["Account"] for row in inventory["rows"]} == {account}
        assert all(row["Construct path"].startswith(f"{environment}/") for row in inventory["rows"]), environment
        subject, segmentation = _without_section(text, "### Segmentation testing (11.4.5")
        others = {a for a in {*accounts.values(), delivered.config.tooling.account} if a != account}
        for other in others:
            assert other not in subject, (environment, other)
        tooling = delivered.config.tooling.account
        for other in others:
            rows = [line for line in segmentation.splitlines() if other in line]
            assert len(rows) == 1, (environment, other, rows)
            # The delivery tooling deploys this environment's stacks: security-impacting, never out of scope.
            category = TOOLING_CATEGORY if other == tooling else OTHER_ENVIRONMENT
            assert f"| {category} |" in rows[0], rows[0]
        # Built from the Stage's own templates and gate results (QSA reader r20d HIGH): no construct path of
        # the delivery tooling's or another Stage's stacks anywhere but in the segmentation rows naming them.
        foreign = [name for name in (*accounts, "delivery") if name != environment]
        assert not re.findall(rf"\bPciLz-(?:{'|'.join(foreign)})-[A-Za-z0-9-]+", subject), environment
        _assert_the_stage_s_own_gate_results(text, delivered, environment)
        # QSA reader r20d HIGH 3: the Stage's Identity template creates no BreakGlass role and trusts no IAM
        # user, so no break-glass user is stated, under the section nor on its "cannot show" line.
        for requirement in ("8.2.1", "8.2.2", "8.3.1"):
            section = text.split(f"\n### {requirement} ", 1)[1].split("\n### ", 1)[0]
            assert "break-glass-1" not in section, (environment, requirement)
            for line in ("- Not evidenced beyond the templates: ", "- This evidence cannot show: "):
                stated = next(x for x in section.splitlines() if x.startswith(line))
                assert "no break-glass principal is trusted in these templates" in stated, (environment, stated)
        assert any((directory / DIAGRAM_DIR).glob("network-*-overview.svg")), environment
    # The delivery-wide set classes the tooling account by its account (QSA reader r20d MEDIUM): the pipeline,
    # OIDC and artifact resources deploy the CDE's stacks (security-impacting), in no CDE account.
    tooling = delivered.config.tooling.account
    inventory = json.loads((top / "workpapers" / "inventory.json").read_text(encoding="utf-8"))["rows"]
    tooling_rows = [row for row in inventory if row["Account"] == tooling]
    assert tooling_rows
    assert all(row["Construct path"].startswith("PciLz-delivery-") for row in tooling_rows)
    assert {row["Basis"].split(" in account ")[0] for row in tooling_rows} == {
        "security-impacting: the delivery tooling"
    }
    delivery_text = (top / f"{REPORT_NAME}.md").read_text(encoding="utf-8")
    assert "every one shares the CDE's account" not in delivery_text
    assert f"in account {tooling}, is the delivery tooling that deploys the CDE's stacks" in delivery_text
    _, segmentation = _without_section(delivery_text, "### Segmentation testing (11.4.5")
    tooling_lines = [line for line in segmentation.splitlines() if tooling in line]
    assert len(tooling_lines) == 1
    assert f"| {TOOLING_CATEGORY} |" in tooling_lines[0]
    # The delivery-wide set draws every stage's VPC of a region on one sheet: each labelled by its stack.
    drawn = [(top / DIAGRAM_DIR / f"network-{region}.mmd").read_text(encoding="utf-8") for region in _regions(top)]
    vpc_labels = [label for text in drawn for label in re.findall(r'"(VPC [^"]*)"', text)]
    assert vpc_labels
    for label in vpc_labels:  # the Stage and the stack that creates it, which name its environment
        assert re.search(r"\((preprod/PciLz-preprod|prod/PciLz-prod)-[A-Za-z0-9-]*\)$", label), label
    assert {"preprod", "prod"} <= {label.rsplit("(", 1)[1].split("/")[0] for label in vpc_labels}
    assert not any(re.search(r"\bvpc\d", text) for text in drawn)


def _assert_the_stage_s_own_gate_results(text: str, delivered: Delivered, environment: str) -> None:
    """A per-environment set's pack counts and exception register are those of its Stage's constructs only."""
    own = [f for f in delivered.report.acknowledged if f.stage == environment]
    assert own
    assert len(own) < len(delivered.report.acknowledged)
    for pack in delivered.gate.packs:
        expected = sum(1 for f in own if f.plugin == pack or f.rule.split("::")[-1].startswith(pack + "-"))
        assert f"\n| {pack} | 0 | {expected} |\n" in text, (environment, pack, expected)
    applied = {
        entry: [p for p in paths if p.startswith(environment + "/")]
        for entry, paths in delivered.gate.acknowledged_paths.items()
    }
    register = text.split("| Id | Rule | Construct path | Requirement cited |", 1)[1].split("\n\n", 1)[0]
    rows = register.splitlines()[2:]
    assert len(rows) == sum(1 for paths in applied.values() if paths), environment
    everywhere = sum(len(paths) for paths in delivered.gate.acknowledged_paths.values())
    assert sum(len(paths) for paths in applied.values()) < everywhere


def _without_section(text: str, heading: str) -> tuple[str, str]:
    """`text` without the section whose heading starts with `heading` (up to the next heading of its level
    or above), and that section."""
    lines = text.splitlines(keepends=True)
    level = heading.split(" ", 1)[0]
    start = next(i for i, line in enumerate(lines) if line.startswith(heading))
    end = next(
        (
            i
            for i in range(start + 1, len(lines))
            if lines[i].startswith("#") and len(lines[i].split(" ", 1)[0]) <= len(level)
        ),
        len(lines),
    )
    return "".join(lines[:start] + lines[end:]), "".join(lines[start:end])


def _regions(directory: Path) -> list[str]:
    """The regions a set draws a network for (each has an overview page)."""
    overviews = (directory / DIAGRAM_DIR).glob("network-*-overview.mmd")
    return sorted(p.name.removeprefix("network-").removesuffix("-overview.mmd") for p in overviews)


@pytest.mark.parametrize(
    "case",
    [
        '| A | B |\n| --- | --- |\n| `x \\| y` | a & b < c "q" |\n| only one |\n| 1 | 2 | 3 |\n',
        "Intro\n\n| A |\n| --- |\n| [link](workpapers/x.csv) *em* |\n\nAfter\n",
        "| A |\n| --- |\n| row |\nlazy continuation line\n",
        "| A | B |\n| :-- | --: |\n| left | right |\n",
        "```\n| not | a table |\n| --- | --- |\n```\n",
        "- item\n\n| A |\n| --- |\n\ntext | with pipe\n",
    ],
    ids=["escapes-and-cell-counts", "inline-syntax", "lazy-row", "aligned", "fenced", "header-only"],
)
def test_markdown_tables_render_as_markdown_it_renders_them(case: str) -> None:
    """The report's own table renderer (evidence.report.markdown_to_html) is markdown-it's output, byte for byte."""
    from markdown_it import MarkdownIt

    from evidence.report import markdown_to_html

    assert markdown_to_html(case) == MarkdownIt("commonmark", {"html": False}).enable("table").render(case)


@pytest.mark.parametrize(
    "case",
    [
        "# H\n\n- a `x`\n- b\n  - c *d*\n  - `e <f>`\n- g & h\n\npara\n",
        "- a\n\n- loose: the blank joins both items into one list\n",
        "- a\n- b\n\n  continued inside b\n",
        "text\n- a list interrupting a paragraph\n",
        "- a\n* another marker starts another list\n\n- c\n",
        "**Bold**\n\n- after a bold line\n- `` `code` with backticks ``\n",
        "- [x]: /url\n\n- [x]\n",
        "- 1. ordered inside\n- # heading inside\n- > quote inside\n- ---\n-   spaced\n",
        "1. ordered\n\n- bullet after an ordered list\n",
        "- a\n  - b\nlazy line\n",
        "- a\t tab\n- trailing  \n",
    ],
    ids=[
        "tight-nested",
        "loose",
        "continuation",
        "interrupts-paragraph",
        "marker-change",
        "bold-before",
        "reference",
        "block-starts",
        "after-ordered",
        "lazy",
        "whitespace",
    ],
)
def test_markdown_lists_render_as_markdown_it_renders_them(case: str) -> None:
    """The report's list fast path (evidence.report._plain_list, _list_html and _code_spans_html) is
    markdown-it's output byte for byte, and leaves every list it does not model to markdown-it."""
    from markdown_it import MarkdownIt

    from evidence.report import markdown_to_html

    assert markdown_to_html(case) == MarkdownIt("commonmark", {"html": False}).enable("table").render(case)


_MARKDOWN_ATOMS = st.sampled_from(
    [
        "a",
        "Z",
        "9",
        " ",
        "`",
        "``",
        "*",
        "_",
        "[",
        "]",
        "(",
        ")",
        "<",
        ">",
        "&",
        "\\",
        "!",
        "~",
        "#",
        "-",
        "+",
        "1.",
        "|",
        ":",
        '"',
        "http://x",
        "é",
        "\t",
        "]:",
    ]
)
_MARKDOWN_TEXT = st.lists(_MARKDOWN_ATOMS, min_size=0, max_size=8).map("".join)
_MARKDOWN_LINE = st.one_of(
    _MARKDOWN_TEXT.map(lambda t: f"- {t}"),
    _MARKDOWN_TEXT.map(lambda t: f"  - {t}"),
    _MARKDOWN_TEXT.map(lambda t: f"| {t} | x |"),
    st.just("| --- | --- |"),
    _MARKDOWN_TEXT,
    st.just(""),
    st.just("```"),
    _MARKDOWN_TEXT.map(lambda t: f"## {t}"),
)


@given(st.lists(_MARKDOWN_LINE, min_size=1, max_size=14))
@example(lines=["- a", "|  | x |", "", "- a"])  # a lazy continuation line keeps the list going past the blank
@settings(max_examples=400, deadline=None)
def test_generated_markdown_renders_as_markdown_it_renders_it(lines: list[str]) -> None:
    """Property: for any document of list items, nested items, table rows, paragraphs, headings and fences
    built from markdown's special characters, the report's renderer equals markdown-it's."""
    from markdown_it import MarkdownIt

    from evidence.report import markdown_to_html

    text = "\n".join(lines) + "\n"
    assert markdown_to_html(text) == MarkdownIt("commonmark", {"html": False}).enable("table").render(text)


def test_the_whole_report_renders_as_markdown_it_renders_it(evidence: Evidence) -> None:
    from markdown_it import MarkdownIt

    from evidence.report import markdown_to_html

    text = evidence.read(f"{REPORT_NAME}.md")
    assert text.count("\n| --- |") > 10
    assert markdown_to_html(text) == MarkdownIt("commonmark", {"html": False}).enable("table").render(text)


def test_3_5_1_names_the_stores_that_may_hold_pan_and_is_not_examined_no_findings(evidence: Evidence) -> None:
    """QSA reader r20e HIGH 1: the data-stores paper says the load balancer's access-log bucket may hold PAN from
    URLs (SSE-S3 only), the section says bucket encryption does not render PAN unreadable, yet 3.5.1 read
    "examined, no findings" on the vault's functions alone. Derived from `card_data_stores`: each store that may
    hold PAN is named "not evidenced" in the section, and the status follows."""
    from evidence.scope import card_data_stores
    from evidence.topology import display_name

    model = evidence.model
    text = evidence.read(f"{REPORT_NAME}.md")
    holding = [model.resource(*key) for key, (holds, _) in card_data_stores(model).items() if holds]
    assert holding, "the default app's load balancers log to a bucket that may hold PAN"
    assert all(r is not None and "-Edge-" in r.stack for r in holding)
    assert _reported_statuses(text)["3.5.1"] == NOT_EVIDENCED
    section = text.split("\n### 3.5.1 ", 1)[1].split("\n### ", 1)[0]
    scope_line = next(line for line in section.splitlines() if line.startswith("- What the rules above examined"))
    assert "not evidenced: PAN in the" in scope_line
    for resource in holding:
        assert resource is not None
        assert f"Bucket {display_name(resource)} ({resource.stack}), written by Elastic Load Balancing, SSE-S3" in (
            scope_line
        )
    summary_row = next(line for line in text.splitlines() if line.startswith(f"| {PASSED} | "))
    assert "3.5.1" not in summary_row.split(":", 1)[1].replace(" |", "").replace(" ", "").split(",")


def test_10_2_1_1_is_not_evidenced_and_names_the_vault_s_detokenize_audit(evidence: Evidence) -> None:
    """QSA reader r20e MEDIUM 3: 10.2.1.1 read "examined, no findings" though its own limits line says pgaudit is
    not configured and the API function's recorded caller is the load balancer's principal, not the client."""
    text = evidence.read(f"{REPORT_NAME}.md")
    assert _reported_statuses(text)["10.2.1.1"] == NOT_EVIDENCED
    summary_row = next(line for line in text.splitlines() if line.startswith(f"| {PASSED} | "))
    assert "10.2.1.1" not in summary_row.split(":", 1)[1].replace(" |", "").replace(" ", "").split(",")
    section = text.split("\n### 10.2.1.1 ", 1)[1].split("\n### ", 1)[0]
    scope_line = next(line for line in section.splitlines() if line.startswith("- What the rules above examined"))
    assert "the load balancer's, not the client" in scope_line
    assert "`vault.detokenize_audit` table" in scope_line
    # The database parameter group preloads pgaudit (pci_constructs.encrypted_database); the line says what it logs.
    assert "preload pgaudit with object auditing through rds_pgaudit" in scope_line
    assert "not reads of card data" in scope_line
