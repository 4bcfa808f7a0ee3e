"""Post-synth check: no finding of this pack is left open in the cloud assembly, and none was silenced unseen.

A plain `cdk synth` is not a gate for every app. The CLI shows the validation report only for the stacks it
selects, and with no stack names it selects the app's top-level stacks: a stack inside a `Stage` (nested
assembly `assembly-<stage>`) is not among them. So an app whose stacks all sit in Stages can synth with exit 0
while `validation-report.json` says `conclusion: failure` with a fatal violation open (QSA reader r21e, HIGH
1). Run this check after every synth (`python -m pci_rules.check cdk.out`, or `check_report(outdir)`). It
reads `<outdir>/validation-report.json` and the report of every nested assembly the manifests name (CDK
writes one at the root; a nested one is read when present), and `pci-dss-v4-results.json` (the plugin's
results file, at the root and in nested assemblies), and fails on:

- every open violation of this pack (`violations` of its plugin report: a fatal one, or an error CDK did not
  suppress);
- every finding the results file lists as open (status "open", or "open: acknowledgment refused") that no
  report lists as suppressed by CDK for an acknowledgeable rule (the results file does not see an
  `acknowledge(...)` on the App or a Stage, which is in no stack's metadata; the report does);
- every suppressed violation whose rule is never-acknowledgeable (by its `ruleMetadata.acknowledgeable`, or
  the rule's own flag when the metadata is missing): a report written by a pack before 1.11.0, or by a plugin
  built on this one that reports at `error`, which CDK suppressed.

A violation CDK suppressed for an acknowledgeable rule, and a finding the results file lists as accepted, pass.
Each failing finding (rule, construct path) is printed once, from the first file naming it (`check_report`).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from pci_rules.plugin import PLUGIN_NAME, RESULTS_FILE
from pci_rules.rules import RULES

REPORT_FILE = "validation-report.json"
_NEVER = frozenset(r.id for r in RULES if not r.acknowledgeable)


class ReportError(ValueError):
    """The validation report is missing or not what CDK writes."""


def _never_acknowledgeable(violation: Mapping[str, Any]) -> bool:
    metadata = violation.get("ruleMetadata") or {}
    flag = metadata.get("acknowledgeable") if isinstance(metadata, Mapping) else None
    if isinstance(flag, str):
        return flag.strip().lower().startswith("no")
    return violation.get("ruleName") in _NEVER


def _read(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise ReportError(f"{path}: not JSON ({err.msg})") from err


def assembly_directories(outdir: str | Path) -> list[Path]:
    """The cloud assembly's directory and those of its nested assemblies (Stages), from the manifests'
    `cdk:cloud-assembly` artifacts (`properties.directoryName`), parents first."""
    root = Path(outdir)
    found, queue = [], [root]
    while queue:
        directory = queue.pop(0)
        if directory in found:
            continue
        found.append(directory)
        manifest = directory / "manifest.json"
        if not manifest.is_file():
            continue
        artifacts = _read(manifest).get("artifacts") or {}
        for artifact in artifacts.values() if isinstance(artifacts, Mapping) else ():
            if not isinstance(artifact, Mapping) or artifact.get("type") != "cdk:cloud-assembly":
                continue
            name = (artifact.get("properties") or {}).get("directoryName")
            if isinstance(name, str) and name:
                queue.append(directory / name)
    return found


def _report_problems(
    path: Path, where: str, suppressed: set[tuple[str, str]], named: set[tuple[str, str]]
) -> list[str]:
    """The report's problems; adds each (rule, construct path) CDK suppressed for an acknowledgeable rule to
    `suppressed`; names each open or never-acknowledgeable one not yet in `named` (and adds it there)."""
    data = _read(path)
    reports = data.get("pluginReports") if isinstance(data, Mapping) else None
    if not isinstance(reports, list):
        raise ReportError(f"{path}: no pluginReports list")
    problems = []
    for plugin in reports:
        if not isinstance(plugin, Mapping) or plugin.get("pluginName") != PLUGIN_NAME:
            continue
        for violation in plugin.get("violations") or []:
            if not isinstance(violation, Mapping):
                continue
            for construct in violation.get("violatingConstructs") or [{}]:
                key = (str(violation.get("ruleName")), str(construct.get("constructPath")))
                if key in named:
                    continue
                named.add(key)
                problems.append(
                    f"{violation.get('ruleName')} at {construct.get('constructPath', '?')}: open"
                    f" ({violation.get('severity', '?')}) in {where}"
                )
        for violation in plugin.get("suppressedViolations") or []:
            if not isinstance(violation, Mapping):
                continue
            if not _never_acknowledgeable(violation):
                for construct in violation.get("violatingConstructs") or []:
                    suppressed.add((str(violation.get("ruleName")), str(construct.get("constructPath"))))
                continue
            for construct in violation.get("violatingConstructs") or [{}]:
                key = (str(violation.get("ruleName")), str(construct.get("constructPath")))
                if key in named:
                    continue
                named.add(key)
                problems.append(
                    f"{violation.get('ruleName')} at {construct.get('constructPath', '?')}: never acknowledgeable,"
                    f" but acknowledged at {violation.get('acknowledgedAt', '?')}"
                    f" ({violation.get('acknowledgedId', '?')}); fix it instead"
                )
    return problems


def _results_problems(
    path: Path, where: str, suppressed: set[tuple[str, str]], named: set[tuple[str, str]]
) -> list[str]:
    """The results file's open findings that no report suppressed for an acknowledgeable rule and that no
    earlier line (`named`: (rule, construct path) already printed) names; adds each it names to `named`."""
    data = _read(path)
    findings = data.get("findings") if isinstance(data, Mapping) else None
    if not isinstance(findings, list):
        raise ReportError(f"{path}: no findings list")
    problems = []
    for finding in findings:
        if not isinstance(finding, Mapping) or not str(finding.get("status", "")).startswith("open"):
            continue
        key = (str(finding.get("rule")), str(finding.get("path")))
        if key in suppressed or key in named:
            continue
        named.add(key)
        problems.append(f"{key[0]} at {finding.get('path', '?')}: {finding.get('status')} in {where}")
    return problems


def check_report(outdir: str | Path) -> list[str]:
    """One line per open finding of this pack, and per never-acknowledgeable violation CDK suppressed, in the
    cloud assembly at `outdir` and its nested assemblies (empty: passed). Each finding, (rule, construct path),
    is named once: by the first report that lists it open (reports are read first, parents before nested
    assemblies), else by the first results file that lists it open (pack 1.13.0; before, a finding both the
    report and the results file held was printed twice).

    Raises `ReportError` when `<outdir>/validation-report.json` is missing or unreadable: CDK writes it
    whenever a policy-validation plugin is registered, so its absence means the pack did not run.
    """
    root = Path(outdir)
    if not (root / REPORT_FILE).is_file():
        raise ReportError(f"{root / REPORT_FILE}: no validation report (was PciDssV4Plugin registered?)")
    problems: list[str] = []
    suppressed: set[tuple[str, str]] = set()
    named: set[tuple[str, str]] = set()
    directories = assembly_directories(root)
    for directory in directories:
        if (directory / REPORT_FILE).is_file():
            problems += _report_problems(
                directory / REPORT_FILE, str(directory.relative_to(root) / REPORT_FILE), suppressed, named
            )
    for directory in directories:
        if (directory / RESULTS_FILE).is_file():
            where = str(directory.relative_to(root) / RESULTS_FILE)
            problems += _results_problems(directory / RESULTS_FILE, where, suppressed, named)
    return list(dict.fromkeys(problems))


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 1:
        print("usage: python -m pci_rules.check <cdk outdir>", file=sys.stderr)
        return 2
    try:
        problems = check_report(args[0])
    except ReportError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    for line in problems:
        print(f"error: {line}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
