"""Every PCI DSS v4.0.1 identifier the project cites exists in the standard (issue 20 item 5).

The list, `evidence/pci_dss_v4_0_1_ids.txt`, was built from the standard's text (its header names the
sources and the date); a mistyped or v3.2.1 identifier (3.6.4 was the v3.2.1 key-rotation number) fails here.
"""

from __future__ import annotations

import json
from pathlib import Path

from evidence import catalog
from pci_rules.rules import RULES

ROOT = Path(__file__).resolve().parent.parent
IDS = {
    line.split("#", 1)[0].strip()
    for line in (ROOT / "evidence" / "pci_dss_v4_0_1_ids.txt").read_text(encoding="utf-8").splitlines()
    if line.split("#", 1)[0].strip()
}


def test_the_vendored_list_is_well_formed() -> None:
    assert len(IDS) > 90
    for identifier in IDS:
        parts = identifier.split(".")
        assert parts[0].isdigit()
        assert 1 <= int(parts[0]) <= 12, identifier
        # A testing procedure (x.y.z.a) belongs to a requirement that is listed too.
        if parts[-1].isalpha():
            assert ".".join(parts[:-1]) in IDS, identifier


def test_every_identifier_in_the_catalog_exists_in_v4_0_1() -> None:
    cited = set(catalog.TITLES) | set(catalog.TESTING_PROCEDURES) | set(catalog.LIMITS)
    cited |= set(catalog.CUSTOMER_RESPONSIBILITIES) | {r for _, r in catalog.UNRELATED_MAPPINGS}
    cited |= {r for control in catalog.SECURITY_HUB_CONTROLS for r in control.requirements}
    for requirement, (procedure, _) in catalog.TESTING_PROCEDURES.items():
        assert procedure == requirement or procedure.startswith(requirement + "."), (requirement, procedure)
        cited.add(procedure)
    assert sorted(cited - IDS) == []


def test_every_identifier_the_rule_pack_and_the_conformance_pack_cite_exists_in_v4_0_1() -> None:
    cited = {r for rule in RULES for r in rule.requirements}
    pack = json.loads((ROOT / "compliance" / "conformance" / "pci-dss-v4.json").read_text(encoding="utf-8"))
    for body in pack["Resources"].values():
        cited |= set((body.get("Metadata") or {}).get("PciDssV401Requirements") or ())
    assert sorted(cited - IDS) == []


def test_the_readme_shows_the_evidence_screenshots_that_make_evidence_screenshots_writes() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    assert "--screenshots docs" in makefile
    for name in ("evidence-report-page.png", "evidence-data-flow.png"):
        assert f"](docs/{name})" in readme
        data = (ROOT / "docs" / name).read_bytes()
        assert data.startswith(b"\x89PNG\r\n\x1a\n")
        width = int.from_bytes(data[16:20], "big")
        assert width == 1400, (name, width)
