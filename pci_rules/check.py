"""Post-synth check: no never-acknowledgeable finding was silenced by CDK's own acknowledgments.

Since pack 1.11.0 the plugin reports a never-acknowledgeable rule's violation at severity `fatal`, which CDK's
`Validations.of(construct).acknowledge(...)` does not suppress (aws-cdk-lib `isSuppressibleViolation`), so the
synth itself fails. This check is the second gate for reports it cannot vouch for (one written by an older pack,
or a plugin built on this one that reports at `error`): such a violation lands under `suppressedViolations` in
`<outdir>/validation-report.json` and the synth passes. Run it after `cdk synth` (`python -m pci_rules.check
cdk.out`, or `check_report(outdir)`): it fails on every suppressed violation of this pack whose rule is
never-acknowledgeable (by the violation's `ruleMetadata.acknowledgeable`, or by the rule's own flag when the
metadata is missing).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from pci_rules.plugin import PLUGIN_NAME
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


def check_report(outdir: str | Path) -> list[str]:
    """One line per never-acknowledgeable violation of this pack that CDK suppressed (empty: passed).

    Raises `ReportError` when `<outdir>/validation-report.json` is missing or unreadable: CDK writes it
    whenever a policy-validation plugin is registered, so its absence means the pack did not run.
    """
    path = Path(outdir) / REPORT_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as err:
        raise ReportError(f"{path}: no validation report (was PciDssV4Plugin registered?)") from err
    except json.JSONDecodeError as err:
        raise ReportError(f"{path}: not JSON ({err.msg})") from err
    reports = data.get("pluginReports") if isinstance(data, Mapping) else None
    if not isinstance(reports, list):
        raise ReportError(f"{path}: no pluginReports list")
    problems = []
    for plugin in reports:
        if not isinstance(plugin, Mapping) or plugin.get("pluginName") != PLUGIN_NAME:
            continue
        for violation in plugin.get("suppressedViolations") or []:
            if not isinstance(violation, Mapping) or not _never_acknowledgeable(violation):
                continue
            for construct in violation.get("violatingConstructs") or [{}]:
                problems.append(
                    f"{violation.get('ruleName')} at {construct.get('constructPath', '?')}: never acknowledgeable,"
                    f" but acknowledged at {violation.get('acknowledgedAt', '?')}"
                    f" ({violation.get('acknowledgedId', '?')}); fix it instead"
                )
    return problems


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
